"""The shared layer: bundled without Docker for CPython 3.12 / arm64, within Lambda's size limit."""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest

from infra.bundling import (
    COMPILE_EXCLUDE,
    LAMBDA_LAYER_UNZIPPED_LIMIT,
    LEFT_OUT_DISTRIBUTIONS,
    LayerBundler,
    bundle_layer,
    find_python312,
    lambda_platforms,
    measure_layer,
    pip_install_command,
    runtime_dependencies,
)
from infra.paths import PYPROJECT

pytestmark = pytest.mark.infra

ELF_MACHINE_AARCH64 = 183


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_dependencies_are_exactly_the_project_dependencies() -> None:
    with PYPROJECT.open("rb") as fh:
        assert runtime_dependencies() == tomllib.load(fh)["project"]["dependencies"]
    assert any(dep.startswith("boto3") for dep in runtime_dependencies())  # bundled on purpose (pinning)


def test_pip_targets_the_lambda_runtime(tmp_path: Path) -> None:
    cmd = pip_install_command(tmp_path, ["pydantic>=2"])
    assert cmd[1:4] == ["-m", "pip", "install"]
    assert "--only-binary=:all:" in cmd
    assert cmd[cmd.index("--python-version") + 1] == "3.12"
    assert cmd[cmd.index("--implementation") + 1] == "cp"
    assert cmd[cmd.index("--target") + 1] == str(tmp_path)
    platforms = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--platform"]
    assert platforms == lambda_platforms()
    assert platforms[0] == "manylinux_2_34_aarch64"  # glibc of Amazon Linux 2023
    assert "manylinux2014_aarch64" in platforms
    assert all(p.endswith("_aarch64") for p in platforms)
    assert "--no-compile" in cmd
    assert cmd[-1] == "pydantic>=2"


def test_package_copy_excludes_caches(tmp_path: Path) -> None:
    package = tmp_path / "src" / "llm_twin"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"stale")
    (package / "__init__.py").write_text("")
    (package / "sample").mkdir()
    (package / "sample" / "piece.md").write_text("# kept")
    site = bundle_layer(tmp_path / "out", package_dir=package, dependencies=[], bytecode=False)
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == [
        "llm_twin/__init__.py",
        "llm_twin/sample/piece.md",
    ]
    size = measure_layer(site)
    assert size.total_bytes == len("# kept")
    assert size.by_distribution == {"llm_twin": len("# kept")}


def test_local_bundler_writes_the_output_dir(tmp_path: Path) -> None:
    from aws_cdk import DockerImage

    package = tmp_path / "llm_twin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    bundler = LayerBundler(package, dependencies=[], bytecode=False)  # no pip run in a unit test
    assert bundler.try_bundle(str(tmp_path / "out"), image=DockerImage.from_registry("unused")) is True
    assert (tmp_path / "out" / "python" / "llm_twin" / "__init__.py").is_file()


def _index_reachable() -> bool:
    url = urlparse(os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple"))
    if url.scheme == "file":
        return True
    try:
        with socket.create_connection((url.hostname or "pypi.org", url.port or 443), timeout=5):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_synth_bundles_the_layer_locally(tmp_path: Path) -> None:
    """Runs the real bundling through CDK (ILocalBundling, no Docker) and inspects the layer asset."""
    if not _index_reachable():
        pytest.skip("the package index is unreachable")
    from infra.application import create_app

    app, stacks = create_app({"aws:cdk:bundling-stacks": ["**"]}, outdir=str(tmp_path), environ={})
    assembly = app.synth()
    layer = assembly.get_stack_artifact("LlmTwinCollectionStack").template["Resources"][
        stacks.collection.resolve(
            stacks.collection.get_logical_id(stacks.collection.shared_layer.layer.node.default_child)
        )
    ]
    asset = tmp_path / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    site = asset / "python"
    assert (site / "llm_twin" / "__init__.py").is_file()
    assert not (site / "bin").exists()
    # bytecode: every module compiled for CPython 3.12 (unchecked-hash), or none without a 3.12 here
    pycs = {p.relative_to(site).as_posix() for p in site.rglob("*.pyc")}
    if find_python312() is None:
        assert not pycs
    else:
        modules = [p for p in site.rglob("*.py") if not re.search(COMPILE_EXCLUDE, str(p))]
        expected = {
            (p.parent / "__pycache__" / f"{p.stem}.cpython-312.pyc").relative_to(site).as_posix()
            for p in modules
        }
        assert len(expected) > 1000
        missing = expected - pycs
        assert len(missing) < 10, sorted(missing)[:10]  # a few Python 2 leftovers may not compile
        assert pycs <= expected  # no bytecode of another Python, none for the sample repository's files
        assert all((site / pyc).read_bytes()[4:8] == b"\x01\x00\x00\x00" for pyc in pycs)
    # every declared dependency is installed
    installed = {
        canonical(p.name.removesuffix(".dist-info").rsplit("-", 1)[0]) for p in site.glob("*.dist-info")
    }
    for requirement in runtime_dependencies():
        assert canonical(re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]) in installed, requirement
    assert not installed & set(LEFT_OUT_DISTRIBUTIONS)  # the gRPC transport, the Hub client
    # compiled extensions are for Linux arm64 and CPython 3.12
    (core,) = (site / "pydantic_core").glob("_pydantic_core.*.so")
    assert "cpython-312-aarch64-linux-gnu" in core.name
    header = core.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64
    size = measure_layer(site)
    print(f"\nlayer: {size.total_bytes / 2**20:.1f} MiB unzipped, {size.files} files; largest:",
          {k: f"{v / 2**20:.1f} MiB" for k, v in list(size.by_distribution.items())[:6]})  # fmt: skip
    assert size.total_bytes < LAMBDA_LAYER_UNZIPPED_LIMIT
    assert size.by_distribution["llm_twin"] < 5 * 2**20  # the package (sample included) stays small
