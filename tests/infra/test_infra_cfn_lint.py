"""cfn-lint finds no errors in the synthesized templates (warnings such as W3005 are CDK's style)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

ERROR_BIT = 2  # cfn-lint exit code bits: 2 errors, 4 warnings, 8 informational


def test_cfn_lint_reports_no_errors(synth: Any) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed (pip install -e .[dev])")
    paths = [str(p) for p in synth.template_paths.values()]
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode & ERROR_BIT == 0, result.stdout + result.stderr
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert all(":W" in line or ":I" in line for line in findings), findings
