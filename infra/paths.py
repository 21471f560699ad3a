"""Where the CDK app finds what it deploys: pure path arithmetic, no I/O."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
CDK_JSON = REPO_ROOT / "cdk.json"
LAYER_PACKAGE_DIR = REPO_ROOT / "layers" / "llm_twin"  # becomes python/llm_twin in the layer
LAMBDAS_DIR = REPO_ROOT / "lambdas"


def lambda_dir(name: str) -> Path:
    """The asset folder of one function: ``lambdas/<name>`` (its handler is ``handler.handler``)."""
    return LAMBDAS_DIR / name
