"""The layer's bytecode and slim dependencies, without the network: interpreter discovery, the compile
step on tiny trees, the fallback without a CPython 3.12, and the --no-deps bookkeeping."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra import bundling
from infra.bundling import (
    LAMBDA_LAYER_SITE,
    NO_DEPS,
    PYTHON312_ENV,
    LayerBundler,
    bundle_layer,
    canonical_name,
    compile_layer,
    find_python312,
    measure_layer,
    pip_install_command,
    python312_candidates,
    requirement_name,
    runtime_dependencies,
    split_dependencies,
    target_environment,
    unmet_requirements,
)

pytestmark = pytest.mark.infra

ZIP_EPOCH = 315532800  # 1980-01-01: the timestamps the CDK gives every file of an asset zip
PYC_FLAGS_UNCHECKED_HASH = 0b01  # PEP 552: hash-based, check_source = 0


def fake_python(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- interpreter discovery --------------------------------------------------------------------------
def test_find_python312_takes_the_first_working_cpython_312(tmp_path: Path) -> None:
    shim = fake_python(tmp_path, "shim", "echo 'pyenv: python3.12: command not found' >&2; exit 127")
    py311 = fake_python(tmp_path, "py311", "echo cpython 3 11")
    pypy = fake_python(tmp_path, "pypy", "echo pypy 3 12")
    good = fake_python(tmp_path, "good", "echo cpython 3 12")
    assert find_python312([str(tmp_path / "missing"), shim, py311, pypy, good, sys.executable]) == good
    assert find_python312([str(tmp_path / "missing"), shim, py311, pypy]) is None


def test_candidates_come_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    on_path = tmp_path / "bin"
    on_path.mkdir()
    path_python = fake_python(on_path, "python3.12", "echo cpython 3 12")
    pyenv = tmp_path / "pyenv"
    for version in ("3.12.1", "3.12.10", "3.11.7"):
        (pyenv / "versions" / version / "bin").mkdir(parents=True)
        fake_python(pyenv / "versions" / version / "bin", f"python{version[:4]}", "echo cpython 3 12")
    monkeypatch.setenv(PYTHON312_ENV, "/configured/python")
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-uv"))
    assert python312_candidates() == [
        "/configured/python",
        sys.executable,
        path_python,
        str(pyenv / "versions/3.12.10/bin/python3.12"),  # newest patch release first
        str(pyenv / "versions/3.12.1/bin/python3.12"),
    ]


def test_a_configured_interpreter_that_is_not_312_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = fake_python(tmp_path, "wrong", "echo cpython 3 11")
    good = fake_python(tmp_path, "good", "echo cpython 3 12")
    monkeypatch.setenv(PYTHON312_ENV, wrong)
    with caplog.at_level(logging.WARNING, logger="infra.bundling"):
        assert find_python312([wrong, good]) == good
    assert f"{PYTHON312_ENV}={wrong} is not a working CPython 3.12" in caplog.text


# --- the compile step -------------------------------------------------------------------------------
def fake_site(root: Path) -> Path:
    site = root / "python"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (site / "pkg" / "mod.py").write_text("def where():\n    return where.__code__.co_filename\n")
    (site / "py2_leftover.py").write_text("print 'a Python 2 file some distributions still ship'\n")
    sample = site / "llm_twin" / "sample" / "github" / "repo"
    sample.mkdir(parents=True)
    (sample / "kept_as_data.py").write_text("X = 1\n")
    return site


def interpreters() -> list[object]:
    found = find_python312()
    return [
        pytest.param(sys.executable, id="this-python"),
        pytest.param(found, id="cpython-3.12", marks=pytest.mark.skipif(not found, reason="no CPython 3.12")),
    ]


@pytest.mark.parametrize("python", interpreters())
def test_compiled_tree_imports_without_rewriting(
    python: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = fake_site(tmp_path)
    with caplog.at_level(logging.WARNING, logger="infra.bundling"):
        assert compile_layer(site, python) is False  # the Python 2 file: warned about, not fatal
    assert "could not compile every file" in caplog.text
    pycs = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.pyc"))
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert pycs == [f"pkg/__pycache__/__init__.{tag}.pyc", f"pkg/__pycache__/mod.{tag}.pyc"]
    for pyc in site.rglob("*.pyc"):
        header = pyc.read_bytes()[:16]
        assert int.from_bytes(header[4:8], "little") == PYC_FLAGS_UNCHECKED_HASH, pyc
    # the asset zip gives every file the same 1980 timestamp: timestamp-checked pycs would be stale
    for path in site.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    before = files(site)
    probe = (
        "import marshal, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"  # -I: neither the cwd nor PYTHONPATH is on sys.path
        "import pkg.mod\n"
        "recorded = marshal.loads(open(pkg.mod.__cached__, 'rb').read()[16:]).co_filename\n"
        "print(recorded); print(pkg.mod.where())\n"
    )
    done = subprocess.run([python, "-I", "-S", "-c", probe, str(site)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    recorded, at_runtime = done.stdout.split()
    assert recorded == f"{LAMBDA_LAYER_SITE}/pkg/mod.py"  # not the build folder
    assert at_runtime == str(site / "pkg" / "mod.py")  # the import system points it at the real file
    assert files(site) == before  # nothing compiled or rewritten at import time
    assert {p.stat().st_mtime for p in site.rglob("*") if p.is_file()} == {ZIP_EPOCH}


def test_compiled_output_does_not_depend_on_the_build_folder(tmp_path: Path) -> None:
    first, second = fake_site(tmp_path / "a"), fake_site(tmp_path / "elsewhere" / "b")
    compile_layer(first, sys.executable)
    compile_layer(second, sys.executable)
    assert files(first) == files(second)  # the asset hash (AssetHashType.OUTPUT) stays stable


def test_bundle_compiles_the_copied_package(tmp_path: Path) -> None:
    package = tmp_path / "src" / "llm_twin"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    (package / "__init__.py").write_text("")
    site = bundle_layer(tmp_path / "out", package_dir=package, dependencies=[], python=sys.executable)
    (pyc,) = (site / "llm_twin" / "__pycache__").iterdir()
    assert pyc.read_bytes() != b"stale"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == PYC_FLAGS_UNCHECKED_HASH


def test_without_python312_the_layer_builds_without_bytecode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aws_cdk import DockerImage

    monkeypatch.setattr(bundling, "find_python312", lambda candidates=None: None)
    package = tmp_path / "llm_twin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    with caplog.at_level(logging.WARNING, logger="infra.bundling"):
        bundler = LayerBundler(package, dependencies=[])  # what SharedLayer runs during cdk synth
        assert bundler.try_bundle(str(tmp_path / "out"), image=DockerImage.from_registry("unused")) is True
    assert "WITHOUT bytecode" in caplog.text
    assert files(tmp_path / "out") == {"python/llm_twin/__init__.py": b""}


def test_bytecode_counts_for_its_distribution(tmp_path: Path) -> None:
    site = tmp_path / "python"
    (site / "pkg" / "__pycache__").mkdir(parents=True)
    (site / "pkg" / "mod.py").write_bytes(b"x" * 10)
    (site / "pkg" / "__pycache__" / "mod.cpython-312.pyc").write_bytes(b"y" * 5)
    (site / "dist_name-1.0.dist-info").mkdir()
    (site / "dist_name-1.0.dist-info" / "RECORD").write_text("pkg/mod.py,,10\n")
    assert measure_layer(site).by_distribution["dist-name"] == 15


# --- slim dependencies ------------------------------------------------------------------------------
def test_no_deps_distributions_get_their_own_pip_run(tmp_path: Path) -> None:
    full, no_deps = split_dependencies(runtime_dependencies())
    assert sorted(requirement_name(d) for d in no_deps) == sorted(canonical_name(n) for n in NO_DEPS)
    assert not {requirement_name(d) for d in full} & {canonical_name(n) for n in NO_DEPS}
    assert "--no-deps" in pip_install_command(tmp_path, no_deps, no_deps=True)
    assert "--no-deps" not in pip_install_command(tmp_path, full)


def write_dist(site: Path, name: str, version: str, requires: list[str] = ()) -> None:
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n")


def test_unmet_requirements_of_no_deps_distributions(tmp_path: Path) -> None:
    site = tmp_path / "python"
    write_dist(site, "opensearch_py", "3.2.0", [
        'urllib3<1.27,>=1.26.19; python_version < "3.10"',
        'urllib3!=2.2.0,!=2.2.1,<3,>=1.26.19; python_version >= "3.10"',
        "requests<3.0.0,>=2.32.0",
        "Events",
        "opensearch-protobufs==1.2.0",  # left out on purpose (NO_DEPS)
        'aiohttp<4,>=3.12.14; extra == "async"',
    ])  # fmt: skip
    write_dist(site, "tokenizers", "0.23.3", ["huggingface-hub>=0.16.4,<3.0"])
    write_dist(site, "urllib3", "2.2.1")
    write_dist(site, "requests", "2.34.2")
    assert unmet_requirements(site) == [
        'opensearch-py requires urllib3!=2.2.0,!=2.2.1,<3,>=1.26.19; python_version >= "3.10" (layer: 2.2.1)',
        "opensearch-py requires Events (layer: not installed)",
    ]
    write_dist(site, "Events", "0.5")
    (site / "urllib3-2.2.1.dist-info").rename(site / "urllib3-2.8.0.dist-info")
    assert unmet_requirements(site) == []


def test_pyproject_lists_what_no_deps_leaves_to_it() -> None:
    """Against the versions installed here: every requirement of the --no-deps distributions (for the
    Lambda target, no extras) is left out on purpose or named in [project].dependencies."""
    from packaging.requirements import Requirement

    listed = {requirement_name(d) for d in runtime_dependencies()}
    for name, left_out in NO_DEPS.items():
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(target_environment()):
                wanted = canonical_name(requirement.name)
                assert wanted in listed or wanted in {canonical_name(n) for n in left_out}, (name, line)
