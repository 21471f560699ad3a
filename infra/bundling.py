"""Build the shared Lambda layer without Docker: ``python/llm_twin`` + the light runtime dependencies.

The dependencies are exactly ``[project].dependencies`` of pyproject.toml. They are installed by pip
for the Lambda target (CPython 3.12, arm64, glibc of Amazon Linux 2023) with ``--only-binary=:all:``,
so the build machine's OS and Python version do not matter.

CLI (measures the layer, used for docs/infrastructure.md)::

    python -m infra.bundling --out /tmp/llm-twin-layer
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import DockerImage, ILocalBundling

from infra.paths import LAYER_PACKAGE_DIR, PYPROJECT

PYTHON_VERSION = "3.12"
# Amazon Linux 2023 (the python3.12 runtime) ships glibc 2.34: every manylinux wheel built for glibc
# 2.17..2.34 runs there. Listing only manylinux2014 would make pip silently fall back to old releases
# of packages that now publish manylinux_2_28 aarch64 wheels only (numpy >= 2.3 for one).
LAMBDA_GLIBC = (2, 34)
OLDEST_MANYLINUX_GLIBC = (2, 17)
LAMBDA_LAYER_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers
# web/: the static page is served by CloudFront (infra/constructs/web_page.py), not by a function.
PACKAGE_EXCLUDES = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", "web")


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """``[project].dependencies`` of pyproject.toml: the single list of what the layer bundles."""
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def lambda_platforms(arch: str = "aarch64") -> list[str]:
    """pip ``--platform`` tags, newest glibc first, plus the legacy ``manylinux2014`` alias."""
    major, newest = LAMBDA_GLIBC
    oldest = OLDEST_MANYLINUX_GLIBC[1]
    return [f"manylinux_{major}_{minor}_{arch}" for minor in range(newest, oldest - 1, -1)] + [
        f"manylinux2014_{arch}"
    ]


def pip_install_command(target: Path, dependencies: Sequence[str], arch: str = "aarch64") -> list[str]:
    platforms = [arg for p in lambda_platforms(arch) for arg in ("--platform", p)]
    return [
        sys.executable, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--quiet", "--progress-bar", "off",
        "--no-compile",  # .pyc files compiled by the build machine's Python would be dead weight on 3.12
        "--only-binary=:all:", *platforms,
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--target", str(target),
        *dependencies,
    ]  # fmt: skip


def bundle_layer(
    output_dir: Path,
    *,
    package_dir: Path = LAYER_PACKAGE_DIR,
    dependencies: Sequence[str] | None = None,
    arch: str = "aarch64",
) -> Path:
    """Write the layer tree into ``output_dir`` (``python/...``) and return ``output_dir/python``."""
    deps = runtime_dependencies() if dependencies is None else list(dependencies)
    site = Path(output_dir) / "python"
    site.mkdir(parents=True, exist_ok=True)
    if deps:
        cmd = pip_install_command(site, deps, arch)
        result = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"layer bundling: pip exited with {result.returncode}: {' '.join(cmd)}")
    # Console scripts carry the build machine's interpreter path in their shebang: useless in a layer
    # and they would make the asset hash differ between machines.
    shutil.rmtree(site / "bin", ignore_errors=True)
    shutil.copytree(package_dir, site / package_dir.name, ignore=shutil.ignore_patterns(*PACKAGE_EXCLUDES))
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


def measure_layer(site: Path) -> LayerSize:
    """Unzipped size (sum of file sizes: what Lambda's 250 MB limit counts), grouped by distribution
    (via each ``*.dist-info/RECORD``); files no RECORD claims (``llm_twin``) group by top-level entry."""
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()}
    owner: dict[str, str] = {}
    for dist_info in site.glob("*.dist-info"):
        dist = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")
        for rel in _record_files(dist_info):
            owner[Path(rel).as_posix()] = dist
    by_dist: dict[str, int] = {}
    for rel, size in sizes.items():
        dist = owner.get(rel, rel.split("/", 1)[0])
        by_dist[dist] = by_dist.get(dist, 0) + size
    ordered = dict(sorted(by_dist.items(), key=lambda kv: kv[1], reverse=True))
    return LayerSize(total_bytes=sum(sizes.values()), files=len(sizes), by_distribution=ordered)


@jsii.implements(ILocalBundling)
class LayerBundler:
    """CDK local bundling hook: runs :func:`bundle_layer` instead of a Docker container."""

    def __init__(
        self,
        package_dir: Path = LAYER_PACKAGE_DIR,
        arch: str = "aarch64",
        dependencies: Sequence[str] | None = None,  # default: read pyproject.toml when bundling
    ) -> None:
        self._package_dir = package_dir
        self._arch = arch
        self._dependencies = dependencies

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        # Raise (never return False): False would make CDK fall back to Docker, absent here.
        bundle_layer(
            Path(output_dir), package_dir=self._package_dir, dependencies=self._dependencies, arch=self._arch
        )
        return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the llm_twin Lambda layer and report its size.")
    parser.add_argument("--out", type=Path, required=True, help="empty folder to write python/... into")
    parser.add_argument("--top", type=int, default=15, help="largest entries to list")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    site = bundle_layer(args.out)
    size = measure_layer(site)
    mib = 1024 * 1024
    print(f"layer: {size.total_bytes / mib:.1f} MiB unzipped in {size.files} files "
          f"(limit {LAMBDA_LAYER_UNZIPPED_LIMIT / mib:.0f} MiB incl. function code)")  # fmt: skip
    for name, nbytes in list(size.by_distribution.items())[: args.top]:
        print(f"  {nbytes / mib:7.1f} MiB  {name}")
    return 0 if size.total_bytes < LAMBDA_LAYER_UNZIPPED_LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
