"""Build the shared Lambda layer without Docker: ``python/llm_twin`` + the light runtime dependencies.

The dependencies are ``[project].dependencies`` of pyproject.toml. They are installed by pip for the
Lambda target (CPython 3.12, arm64, glibc of Amazon Linux 2023) with ``--only-binary=:all:``, so the
build machine's OS and Python version do not matter. The distributions of :data:`NO_DEPS` are installed
with ``--no-deps``: the requirements they declare but the project never loads stay out of the layer
(pyproject lists the ones that are needed, and the build checks them against the installed metadata).

The tree is then byte-compiled by a CPython 3.12 (:func:`find_python312`) into unchecked-hash ``.pyc``
(PEP 552): /opt is read-only on Lambda, so without them every cold start compiles every module it
imports. Without a CPython 3.12 the layer is built without bytecode (slower cold starts) and a warning
is logged; the build never fails for it.

The wheelhouse (:func:`download_wheelhouse`, ``make wheelhouse``) holds the same wheels on disk, for
arm64 and x86_64: ``bundle_layer(wheelhouse=...)`` (or ``$LLM_TWIN_WHEELHOUSE`` for the CDK hook) then
installs with ``pip --no-index --find-links``, offline. The layer tests build from it, never the index.

CLI (measures the layer, used for docs/infrastructure.md; downloads the wheelhouse)::

    python -m infra.bundling --out /tmp/llm-twin-layer [--arch x86_64] [--python PATH | --no-bytecode]
                             [--from-wheelhouse .wheelhouse]
    python -m infra.bundling --wheelhouse .wheelhouse --arch aarch64 --arch x86_64
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, Literal

import jsii
from aws_cdk import DockerImage, ILocalBundling

from infra.paths import LAYER_PACKAGE_DIR, PYPROJECT, REPO_ROOT

log = logging.getLogger(__name__)

PYTHON_VERSION = "3.12"
# Amazon Linux 2023 (the python3.12 runtime) ships glibc 2.34: every manylinux wheel built for glibc
# 2.17..2.34 runs there. Listing only manylinux2014 would make pip silently fall back to old releases
# of packages that now publish manylinux_2_28 aarch64 wheels only (numpy >= 2.3 for one).
LAMBDA_GLIBC = (2, 34)
OLDEST_MANYLINUX_GLIBC = (2, 17)
LAMBDA_LAYER_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers
# web/: the static page is served by CloudFront (infra/constructs/web_page.py), not by a function.
# Caches are the build machine's (another Python, timestamp-checked): the tree is compiled afterwards.
PACKAGE_EXCLUDES = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", "web")

# Installed with ``pip --no-deps``; the value lists the declared requirements the layer leaves out.
# Every other requirement of theirs must be in [project].dependencies: bundle_layer checks it against
# the installed metadata (name, version and markers) and fails the build if one is missing.
NO_DEPS: dict[str, tuple[str, ...]] = {
    # opensearch-py 3 declares its gRPC transport (opensearch-protobufs -> grpcio, protobuf: 18 MiB
    # unzipped). The project talks HTTP (RequestsHttpConnection); opensearchpy never imports it.
    "opensearch-py": ("opensearch-protobufs",),
    # tokenizers declares the Hugging Face Hub client (huggingface-hub -> hf-xet, httpx, fsspec, pyyaml,
    # ...: 20 MiB) for Tokenizer.from_pretrained; the project loads tokenizer.json from its package.
    "tokenizers": ("huggingface-hub",),
}
# What NO_DEPS keeps out (tests assert none is installed).
LEFT_OUT_DISTRIBUTIONS = ("grpcio", "protobuf", "opensearch-protobufs", "hf-xet", "huggingface-hub")

# Byte-compilation. A CPython 3.12 named by this variable is tried first (then sys.executable,
# python3.12 on PATH, pyenv's and uv's 3.12 installs).
PYTHON312_ENV = "LLM_TWIN_LAYER_PYTHON"
# Lambda extracts a layer into /opt: the source path recorded in each .pyc (the tracebacks' path; the
# import system corrects it on load anyway). Never the build folder: the output must not depend on it.
LAMBDA_LAYER_SITE = "/opt/python"
# The sample author's repository is package data (served to the crawler), not modules to import.
COMPILE_EXCLUDE = r"[/\\]llm_twin[/\\]sample[/\\]github[/\\]"

# The wheelhouse: every wheel of the layer for both architectures, downloaded by `make` (its install
# step may use the network) so that the layer tests build it offline (pip --no-index --find-links).
WHEELHOUSE = REPO_ROOT / ".wheelhouse"
WHEELHOUSE_MANIFEST = "wheelhouse.json"  # written last: its presence means the download completed
# = python -m infra.bundling --wheelhouse .wheelhouse --arch aarch64 --arch x86_64
WHEELHOUSE_COMMAND = "make wheelhouse"
# LayerBundler (the CDK hook) builds from this wheelhouse, offline, when the variable names one.
WHEELHOUSE_ENV = "LLM_TWIN_WHEELHOUSE"


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """``[project].dependencies`` of pyproject.toml: the single list of what the layer bundles."""
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name (``Opensearch_Py`` -> ``opensearch-py``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical_name(match.group(1))


def split_dependencies(dependencies: Sequence[str]) -> tuple[list[str], list[str]]:
    """(installed with their dependencies, installed with ``--no-deps``: the :data:`NO_DEPS` ones)."""
    no_deps = {canonical_name(n) for n in NO_DEPS}
    full = [d for d in dependencies if requirement_name(d) not in no_deps]
    return full, [d for d in dependencies if requirement_name(d) in no_deps]


def lambda_platforms(arch: str = "aarch64") -> list[str]:
    """pip ``--platform`` tags, newest glibc first, plus the legacy ``manylinux2014`` alias."""
    major, newest = LAMBDA_GLIBC
    oldest = OLDEST_MANYLINUX_GLIBC[1]
    return [f"manylinux_{major}_{minor}_{arch}" for minor in range(newest, oldest - 1, -1)] + [
        f"manylinux2014_{arch}"
    ]


def pip_command(
    action: Literal["install", "download"],
    destination: Path,
    dependencies: Sequence[str],
    arch: str = "aarch64",
    *,
    no_deps: bool = False,
    wheelhouse: Path | None = None,
) -> list[str]:
    """The one pip command line of the layer: ``install --target`` (the layer) or ``download --dest``
    (the wheelhouse), with the same target flags. ``wheelhouse``: resolve from that folder only
    (``--no-index --find-links``), never from a package index."""
    platforms = [arg for p in lambda_platforms(arch) for arg in ("--platform", p)]
    if action == "install":
        # --no-compile: compiled later by a CPython 3.12 (compile_layer), not by the build machine's
        into = ["--no-compile", "--target", str(destination)]
    elif action == "download":
        into = ["--dest", str(destination)]
    else:
        raise ValueError(f"not a pip action of the layer: {action!r}")
    offline = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse is not None else []
    return [
        sys.executable, "-m", "pip", action,
        "--disable-pip-version-check", "--no-input", "--quiet", "--progress-bar", "off",
        *offline,
        *(["--no-deps"] if no_deps else []),
        "--only-binary=:all:", *platforms,
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        *into,
        *dependencies,
    ]  # fmt: skip


def pip_install_command(
    target: Path,
    dependencies: Sequence[str],
    arch: str = "aarch64",
    *,
    no_deps: bool = False,
    wheelhouse: Path | None = None,
) -> list[str]:
    return pip_command("install", target, dependencies, arch, no_deps=no_deps, wheelhouse=wheelhouse)


def pip_download_command(
    wheelhouse: Path, dependencies: Sequence[str], arch: str = "aarch64", *, no_deps: bool = False
) -> list[str]:
    return pip_command("download", wheelhouse, dependencies, arch, no_deps=no_deps)


def _pip(cmd: list[str]) -> None:
    result = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)  # noqa: S603
    if result.returncode != 0:
        hint = ""
        if "--no-index" in cmd:
            hint = (f" (offline, from the wheelhouse {cmd[cmd.index('--find-links') + 1]}: refresh it with "
                    f"`{WHEELHOUSE_COMMAND}`)")  # fmt: skip
        raise RuntimeError(f"layer bundling: pip exited with {result.returncode}{hint}: {' '.join(cmd)}")


# --- the wheelhouse: the layer's wheels on disk, to build it without the network ---------------------
def wheelhouse_manifest(arches: Sequence[str], dependencies: Sequence[str]) -> dict[str, Any]:
    """What a wheelhouse was downloaded for (written as :data:`WHEELHOUSE_MANIFEST` once complete)."""
    return {
        "python_version": PYTHON_VERSION,
        "dependencies": list(dependencies),
        "no_deps": sorted(canonical_name(n) for n in NO_DEPS),
        "platforms": {arch: lambda_platforms(arch) for arch in arches},
    }


def download_wheelhouse(
    wheelhouse: Path, arches: Sequence[str] = ("aarch64",), *, dependencies: Sequence[str] | None = None
) -> Path:
    """Download every wheel :func:`bundle_layer` installs, for each of ``arches``, into ``wheelhouse``
    (the same requirement set, pip flags, platforms and --no-deps split; this step needs the index).

    Downloaded into a fresh sibling folder that then replaces ``wheelhouse``: the folder holds exactly
    the current set (no stale releases), and an interrupted download leaves the old one untouched.
    pip's HTTP cache makes a refresh cheap. Returns the manifest's path.
    """
    deps = runtime_dependencies() if dependencies is None else list(dependencies)
    full, no_deps = split_dependencies(deps)
    wheelhouse = Path(wheelhouse)
    partial = wheelhouse.with_name(wheelhouse.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for arch in arches:
        if full:
            _pip(pip_download_command(partial, full, arch))
        if no_deps:
            _pip(pip_download_command(partial, no_deps, arch, no_deps=True))
    manifest = partial / WHEELHOUSE_MANIFEST
    manifest.write_text(json.dumps(wheelhouse_manifest(arches, deps), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(wheelhouse, ignore_errors=True)
    partial.rename(wheelhouse)
    return wheelhouse / WHEELHOUSE_MANIFEST


def wheelhouse_problem(
    wheelhouse: Path, arch: str, *, dependencies: Sequence[str] | None = None
) -> str | None:
    """Why ``wheelhouse`` cannot build the layer for ``arch`` (missing, incomplete or downloaded for
    another requirement set), or None when it can."""
    manifest = Path(wheelhouse) / WHEELHOUSE_MANIFEST
    if not manifest.is_file():
        return f"no wheelhouse at {wheelhouse} (create it: `{WHEELHOUSE_COMMAND}`)"
    deps = runtime_dependencies() if dependencies is None else list(dependencies)
    found = json.loads(manifest.read_text(encoding="utf-8"))
    wanted = wheelhouse_manifest([arch], deps)
    if arch not in found.get("platforms", {}):
        return f"the wheelhouse {wheelhouse} has no {arch} wheels (refresh it: `{WHEELHOUSE_COMMAND}`)"
    found["platforms"] = {arch: found["platforms"][arch]}
    if found != wanted:
        return (f"the wheelhouse {wheelhouse} was downloaded for other requirements or platforms "
                f"(refresh it: `{WHEELHOUSE_COMMAND}`)")  # fmt: skip
    return None


# --- requirements of the --no-deps distributions -----------------------------------------------------
def installed_distributions(site: Path) -> dict[str, Path]:
    """Canonical name -> ``*.dist-info`` folder of every distribution installed in ``site``."""
    return {
        canonical_name(p.name.removesuffix(".dist-info").rsplit("-", 1)[0]): p
        for p in site.glob("*.dist-info")
    }


def target_environment(arch: str = "aarch64") -> dict[str, str]:
    """PEP 508 marker values of the Lambda runtime (python3.12 on Amazon Linux 2023)."""
    return {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "implementation_version": f"{PYTHON_VERSION}.0",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": arch,
        "extra": "",
    }


def unmet_requirements(site: Path, arch: str = "aarch64") -> list[str]:
    """Requirements of the installed :data:`NO_DEPS` distributions (for this target, no extras) that
    the layer neither satisfies nor leaves out on purpose. Empty when the layer is complete."""
    try:
        from packaging.requirements import Requirement
        from packaging.version import Version
    except ImportError:  # installed with pytest and setuptools; never fail a build for its absence
        log.warning("layer bundling: 'packaging' is not installed: requirements of %s not checked", NO_DEPS)
        return []
    installed = installed_distributions(site)
    environment = target_environment(arch)
    unmet = []
    for name, left_out in NO_DEPS.items():
        dist_info = installed.get(canonical_name(name))
        if dist_info is None:
            continue
        metadata = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        skipped = {canonical_name(n) for n in left_out}
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            wanted = canonical_name(requirement.name)
            if wanted in skipped:
                continue
            have = installed.get(wanted)
            version = have.name.removesuffix(".dist-info").rsplit("-", 1)[1] if have else None
            if version is None or not requirement.specifier.contains(Version(version), prereleases=True):
                unmet.append(f"{name} requires {line.strip()} (layer: {version or 'not installed'})")
    return unmet


# --- bytecode -----------------------------------------------------------------------------------------
_PROBE = "import sys; print(sys.implementation.name, *sys.version_info[:2])"


def is_cpython312(executable: str) -> bool:
    """Whether ``executable`` runs and is CPython 3.12 (pyenv shims exist but may fail to run)."""
    if Path(executable).resolve() == Path(sys.executable).resolve():
        return sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 12)
    try:
        done = subprocess.run(  # noqa: S603
            [executable, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.split() == ["cpython", "3", "12"]


def python312_candidates() -> list[str]:
    """Where a CPython 3.12 may be, in order: $LLM_TWIN_LAYER_PYTHON, this interpreter, python3.12 on
    PATH, pyenv's versions (newest first), uv's managed interpreters."""
    candidates = [os.environ.get(PYTHON312_ENV, ""), sys.executable, shutil.which("python3.12") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
    for pattern, root in (("3.12*/bin/python3.12", pyenv), ("cpython-3.12*/bin/python3.12", uv)):
        candidates += sorted((str(p) for p in root.glob(pattern)), key=_version_key, reverse=True)
    return list(dict.fromkeys(c for c in candidates if c))


def _version_key(path: str) -> list[int]:
    match = re.search(r"3\.12\.(\d+)", path)
    return [int(match.group(1)) if match else -1]


def find_python312(candidates: Sequence[str] | None = None) -> str | None:
    """The first candidate that is a working CPython 3.12, else None."""
    configured = os.environ.get(PYTHON312_ENV)
    for candidate in python312_candidates() if candidates is None else candidates:
        if is_cpython312(candidate):
            return candidate
        if candidate == configured:
            log.warning("layer bundling: %s=%s is not a working CPython 3.12; looking further",
                        PYTHON312_ENV, configured)  # fmt: skip
    return None


def compile_command(python: str, site: Path) -> list[str]:
    """compileall for the Lambda runtime: unchecked-hash pycs (valid whatever timestamps the asset
    zip gives the sources: the CDK sets 1980), source paths recorded as /opt/python/..., one process
    (the same bytes on every machine; parallel workers gave the same output, but no faster here)."""
    return [
        python, "-m", "compileall", "-q",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(site), "-p", LAMBDA_LAYER_SITE,
        "-x", COMPILE_EXCLUDE,
        str(site),
    ]  # fmt: skip


def compile_layer(site: Path, python: str) -> bool:
    """Byte-compile ``site`` with ``python`` (a CPython 3.12 for the layer). A file that does not
    compile (Python 2 leftovers in some distributions) is left without bytecode: the import system
    compiles it if it is ever imported. Returns whether every file compiled."""
    done = subprocess.run(compile_command(python, site), capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        log.warning("layer bundling: compileall (%s) could not compile every file; those compile at import "
                    "time if imported:\n%s", python, (done.stdout + done.stderr)[-2000:])  # fmt: skip
    return done.returncode == 0


def bundle_layer(
    output_dir: Path,
    *,
    package_dir: Path = LAYER_PACKAGE_DIR,
    dependencies: Sequence[str] | None = None,
    arch: str = "aarch64",
    bytecode: bool = True,
    python: str | None = None,
    wheelhouse: Path | None = None,
) -> Path:
    """Write the layer tree into ``output_dir`` (``python/...``) and return ``output_dir/python``.

    ``bytecode``: byte-compile the tree with ``python`` (default: :func:`find_python312`); without a
    CPython 3.12 the tree has no bytecode and a warning says so. ``wheelhouse``: install from that
    folder only (:func:`download_wheelhouse`), never from a package index.
    """
    deps = runtime_dependencies() if dependencies is None else list(dependencies)
    if wheelhouse is not None and not Path(wheelhouse).is_dir():
        raise FileNotFoundError(
            f"layer bundling: no wheelhouse at {wheelhouse} (create it: `{WHEELHOUSE_COMMAND}`)"
        )
    site = Path(output_dir) / "python"
    site.mkdir(parents=True, exist_ok=True)
    full, no_deps = split_dependencies(deps)
    if full:
        _pip(pip_install_command(site, full, arch, wheelhouse=wheelhouse))
    pulled_in = installed_distributions(site)
    if already := [d for d in no_deps if requirement_name(d) in pulled_in]:
        # another requirement depends on it, with its dependencies: --no-deps cannot help any more
        log.warning("layer bundling: %s already installed as a dependency of another requirement", already)
        no_deps = [d for d in no_deps if d not in already]
    if no_deps:  # after the others, into new folders only (pip --target does not replace without -U)
        _pip(pip_install_command(site, no_deps, arch, no_deps=True, wheelhouse=wheelhouse))
        unmet = unmet_requirements(site, arch)
        if unmet:
            raise RuntimeError(
                "layer bundling: requirements of --no-deps distributions are missing; add them to "
                "[project].dependencies or, if never loaded, to infra.bundling.NO_DEPS:\n  "
                + "\n  ".join(unmet)
            )
    # Console scripts carry the build machine's interpreter path in their shebang: useless in a layer
    # and they would make the asset hash differ between machines.
    shutil.rmtree(site / "bin", ignore_errors=True)
    shutil.copytree(package_dir, site / package_dir.name, ignore=shutil.ignore_patterns(*PACKAGE_EXCLUDES))
    if bytecode:
        interpreter = python or find_python312()
        if interpreter is None:
            log.warning(
                "layer bundling: no CPython %s found (set %s, or put python%s on PATH): the layer is built "
                "WITHOUT bytecode. It works, but every cold start compiles the modules it imports "
                "(~0.7 s of CPU for the API).", PYTHON_VERSION, PYTHON312_ENV, PYTHON_VERSION,
            )  # fmt: skip
        else:
            log.info("layer bundling: byte-compiling for CPython %s with %s", PYTHON_VERSION, interpreter)
            compile_layer(site, interpreter)
    return site


@dataclass(frozen=True)
class LayerSize:
    total_bytes: int
    files: int
    by_distribution: dict[str, int]  # "numpy" (incl. numpy.libs), "botocore", ..., "llm_twin", largest first


def _record_files(dist_info: Path) -> list[str]:
    record = dist_info / "RECORD"
    if not record.is_file():
        return []
    return [line.split(",", 1)[0] for line in record.read_text(encoding="utf-8").splitlines() if line]


def _source_of(rel: str) -> str:
    """``pkg/__pycache__/mod.cpython-312.pyc`` -> ``pkg/mod.py`` (compiled after pip wrote RECORD)."""
    parts = rel.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc"):
        return "/".join([*parts[:-2], parts[-1].split(".", 1)[0] + ".py"])
    return rel


def measure_layer(site: Path) -> LayerSize:
    """Unzipped size (sum of file sizes: what Lambda's 250 MB limit counts), grouped by distribution
    (via each ``*.dist-info/RECORD``; bytecode counts for its source's distribution); files no RECORD
    claims (``llm_twin``) group by top-level entry."""
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()}
    owner: dict[str, str] = {}
    for dist_info in site.glob("*.dist-info"):
        dist = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")
        for rel in _record_files(dist_info):
            owner[Path(rel).as_posix()] = dist
    by_dist: dict[str, int] = {}
    for rel, size in sizes.items():
        dist = owner.get(rel) or owner.get(_source_of(rel)) or rel.split("/", 1)[0]
        by_dist[dist] = by_dist.get(dist, 0) + size
    ordered = dict(sorted(by_dist.items(), key=lambda kv: kv[1], reverse=True))
    return LayerSize(total_bytes=sum(sizes.values()), files=len(sizes), by_distribution=ordered)


@jsii.implements(ILocalBundling)
class LayerBundler:
    """CDK local bundling hook: runs :func:`bundle_layer` instead of a Docker container.

    ``wheelhouse`` (default: the folder named by ``$LLM_TWIN_WHEELHOUSE`` when bundling, if set):
    install from it only, offline.
    """

    def __init__(
        self,
        package_dir: Path = LAYER_PACKAGE_DIR,
        arch: str = "aarch64",
        dependencies: Sequence[str] | None = None,  # default: read pyproject.toml when bundling
        *,
        bytecode: bool = True,
        wheelhouse: Path | None = None,
    ) -> None:
        self._package_dir = package_dir
        self._arch = arch
        self._dependencies = dependencies
        self._bytecode = bytecode
        self._wheelhouse = wheelhouse

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        # Raise (never return False): False would make CDK fall back to Docker, absent here.
        bundle_layer(
            Path(output_dir),
            package_dir=self._package_dir,
            dependencies=self._dependencies,
            arch=self._arch,
            bytecode=self._bytecode,
            wheelhouse=self._wheelhouse or (Path(env) if (env := os.environ.get(WHEELHOUSE_ENV)) else None),
        )
        return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the llm_twin Lambda layer and report its size (--out), or download its wheels "
        "into a wheelhouse to build it offline later (--wheelhouse)."
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="empty folder to write python/... into")
    mode.add_argument("--wheelhouse", type=Path, help="folder to download the layer's wheels into (replaced)")
    parser.add_argument(
        "--arch",
        choices=("aarch64", "x86_64"),
        action="append",
        help="target architecture (default aarch64; repeatable with --wheelhouse)",
    )
    parser.add_argument(
        "--from-wheelhouse",
        type=Path,
        metavar="DIR",
        help="with --out: install from this wheelhouse only (pip --no-index), offline",
    )
    parser.add_argument("--top", type=int, default=15, help="largest entries to list")
    parser.add_argument("--python", help=f"CPython {PYTHON_VERSION} to byte-compile with (default: search)")
    parser.add_argument("--no-bytecode", action="store_true", help="do not byte-compile (as before)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arches = list(dict.fromkeys(args.arch or ["aarch64"]))
    if args.wheelhouse is not None:
        if args.from_wheelhouse is not None:
            parser.error("--from-wheelhouse goes with --out")
        manifest = download_wheelhouse(args.wheelhouse, arches)
        wheels = list(args.wheelhouse.glob("*.whl"))
        print(f"wheelhouse: {len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB "
              f"for {', '.join(arches)} in {args.wheelhouse} ({manifest.name} written)")  # fmt: skip
        return 0
    if len(arches) > 1:
        parser.error("--out builds one layer: give one --arch")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    python = None if args.no_bytecode else (args.python or find_python312())
    site = bundle_layer(args.out, arch=arches[0], bytecode=not args.no_bytecode, python=python,
                        wheelhouse=args.from_wheelhouse)  # fmt: skip
    size = measure_layer(site)
    mib = 1024 * 1024
    pycs = sum(1 for _ in site.rglob("*.pyc"))
    print(f"layer: {size.total_bytes / mib:.1f} MiB unzipped in {size.files} files "
          f"(limit {LAMBDA_LAYER_UNZIPPED_LIMIT / mib:.0f} MiB incl. function code); "
          f"{pycs} .pyc" + (f" compiled by {python}" if python else " (no bytecode)"))  # fmt: skip
    for name, nbytes in list(size.by_distribution.items())[: args.top]:
        print(f"  {nbytes / mib:7.1f} MiB  {name}")
    return 0 if size.total_bytes < LAMBDA_LAYER_UNZIPPED_LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
