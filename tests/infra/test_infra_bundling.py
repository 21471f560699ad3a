"""The shared layer: bundled without Docker for CPython 3.12 / arm64, within Lambda's size limit.

No test reaches a package index: the real build installs from the wheelhouse that `make` downloads
(``make wheelhouse``, pip ``--no-index``) and is skipped, with the command to run, without it.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import bundling
from infra.bundling import (
    COMPILE_EXCLUDE,
    LAMBDA_LAYER_UNZIPPED_LIMIT,
    LEFT_OUT_DISTRIBUTIONS,
    WHEELHOUSE,
    WHEELHOUSE_COMMAND,
    WHEELHOUSE_ENV,
    WHEELHOUSE_MANIFEST,
    LayerBundler,
    bundle_layer,
    download_wheelhouse,
    find_python312,
    lambda_platforms,
    measure_layer,
    pip_download_command,
    pip_install_command,
    runtime_dependencies,
    split_dependencies,
    wheelhouse_problem,
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


# --- the wheelhouse ----------------------------------------------------------------------------------
def without_destination(cmd: list[str]) -> list[str]:
    """The command without its pip action and where it writes (what install and download share)."""
    cmd = [arg for arg in cmd if arg not in {"install", "download", "--no-compile"}]
    for flag in ("--target", "--dest"):
        if flag in cmd:
            del cmd[cmd.index(flag) : cmd.index(flag) + 2]
    return cmd


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
@pytest.mark.parametrize("no_deps", [False, True])
def test_the_wheelhouse_downloads_with_the_install_arguments(
    tmp_path: Path, arch: str, no_deps: bool
) -> None:
    deps = ["pydantic>=2", "tokenizers>=0.21"]
    download = pip_download_command(tmp_path / "wheels", deps, arch, no_deps=no_deps)
    install = pip_install_command(tmp_path / "site", deps, arch, no_deps=no_deps)
    assert download[1:4] == ["-m", "pip", "download"]
    assert download[download.index("--dest") + 1] == str(tmp_path / "wheels")
    assert without_destination(download) == without_destination(install)
    assert "--no-index" not in download  # downloading is the one step that uses the index


def test_a_wheelhouse_build_never_uses_an_index(tmp_path: Path) -> None:
    online = pip_install_command(tmp_path / "site", ["pydantic>=2"])
    offline = pip_install_command(tmp_path / "site", ["pydantic>=2"], wheelhouse=tmp_path / "wheels")
    assert "--no-index" not in online and "--find-links" not in online
    assert "--no-index" in offline
    assert offline[offline.index("--find-links") + 1] == str(tmp_path / "wheels")
    assert [
        arg for arg in offline if arg not in {"--no-index", "--find-links", str(tmp_path / "wheels")}
    ] == online
    with pytest.raises(FileNotFoundError, match=re.escape(WHEELHOUSE_COMMAND)):
        bundle_layer(tmp_path / "out", dependencies=["pydantic>=2"], wheelhouse=tmp_path / "missing")


def test_download_wheelhouse_runs_the_bundle_split_for_each_arch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(bundling, "_pip", ran.append)  # no pip run in a unit test
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    (wheelhouse / "stale-0.1-py3-none-any.whl").write_bytes(b"")
    deps = runtime_dependencies()
    full, no_deps = split_dependencies(deps)
    manifest = download_wheelhouse(wheelhouse, ["aarch64", "x86_64"])
    partial = tmp_path / "wheels.partial"  # downloaded there, then renamed over the old folder
    assert ran == [
        pip_download_command(partial, full, "aarch64"),
        pip_download_command(partial, no_deps, "aarch64", no_deps=True),
        pip_download_command(partial, full, "x86_64"),
        pip_download_command(partial, no_deps, "x86_64", no_deps=True),
    ]
    assert not partial.exists()
    assert sorted(p.name for p in wheelhouse.iterdir()) == [WHEELHOUSE_MANIFEST]  # stale wheel gone
    assert manifest == wheelhouse / WHEELHOUSE_MANIFEST
    assert json.loads(manifest.read_text())["dependencies"] == deps
    assert wheelhouse_problem(wheelhouse, "aarch64") is None
    assert wheelhouse_problem(wheelhouse, "x86_64") is None


def test_wheelhouse_problem_names_the_command_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bundling, "_pip", lambda cmd: None)
    assert "no wheelhouse at" in (wheelhouse_problem(tmp_path / "missing", "aarch64") or "")
    download_wheelhouse(tmp_path / "arm", ["aarch64"], dependencies=["pydantic>=2"])
    assert wheelhouse_problem(tmp_path / "arm", "aarch64", dependencies=["pydantic>=2"]) is None
    for problem in (
        wheelhouse_problem(tmp_path / "missing", "aarch64"),
        wheelhouse_problem(tmp_path / "arm", "x86_64", dependencies=["pydantic>=2"]),
        wheelhouse_problem(tmp_path / "arm", "aarch64", dependencies=["pydantic>=2.10"]),  # pyproject changed
    ):
        assert problem and f"`{WHEELHOUSE_COMMAND}`" in problem


def test_the_cdk_hook_takes_the_wheelhouse_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from aws_cdk import DockerImage

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(bundling, "bundle_layer", lambda out, **kwargs: calls.append(kwargs))
    image = DockerImage.from_registry("unused")
    monkeypatch.delenv(WHEELHOUSE_ENV, raising=False)
    LayerBundler(tmp_path).try_bundle(str(tmp_path / "a"), image=image)
    monkeypatch.setenv(WHEELHOUSE_ENV, str(tmp_path / "wheels"))
    LayerBundler(tmp_path).try_bundle(str(tmp_path / "b"), image=image)
    assert [call["wheelhouse"] for call in calls] == [None, tmp_path / "wheels"]


def build_offline(monkeypatch: pytest.MonkeyPatch, arch: str) -> list[list[str]]:
    """Skip without a usable wheelhouse; else point the CDK hook at it, forbid index use even to a
    command without ``--no-index``, and return the list every pip command of the build is added to."""
    if problem := wheelhouse_problem(WHEELHOUSE, arch):
        pytest.skip(f"the layer is built offline from the wheelhouse only: {problem}")
    monkeypatch.setenv(WHEELHOUSE_ENV, str(WHEELHOUSE))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    commands: list[list[str]] = []
    real = bundling.pip_command

    def recording(*args: Any, **kwargs: Any) -> list[str]:
        commands.append(real(*args, **kwargs))
        return commands[-1]

    monkeypatch.setattr(bundling, "pip_command", recording)
    return commands


def assert_built_offline(commands: list[list[str]]) -> None:
    assert len(commands) == 2  # the dependencies, then the --no-deps ones
    for cmd in commands:
        assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
        assert "--no-index" in cmd, cmd
        assert cmd[cmd.index("--find-links") + 1] == str(WHEELHOUSE)


@pytest.mark.slow
def test_synth_bundles_the_layer_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Runs the real bundling through CDK (ILocalBundling, no Docker), offline from the wheelhouse,
    and inspects the layer asset."""
    commands = build_offline(monkeypatch, "aarch64")
    from infra.application import create_app

    app, stacks = create_app({"aws:cdk:bundling-stacks": ["**"]}, outdir=str(tmp_path), environ={})
    assembly = app.synth()
    assert_built_offline(commands)
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
