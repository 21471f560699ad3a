"""The Evaluate step's success path with the model registry: the newest Approved package of the group is
found (moto stands in for SageMaker and S3), its uncompressed model prefix is downloaded, answered with,
scored, and the gate compares the candidate with it instead of the base model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_twin.settings import Settings
from tests.evaluate.conftest import HashEmbedder, ScriptedModel, verdict, workflow_args
from training.evaluate.__main__ import main
from training.evaluate.judge import Judge
from training.finetune.run import RunResult

REGION = "us-east-1"
GROUP = "llm-twin-test-twin"
BUCKET = "llm-twin-test-artifacts-123456789012-us-east-1"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.35.0-lmi17.0.0-cu128"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto; no cached client may bypass it (the project caches boto3 clients)."""
    from moto import mock_aws

    from llm_twin.local.clients import clear_clients

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clear_clients()
    with mock_aws():
        yield
    clear_clients()


def _upload(s3: Any, folder: Path, prefix: str) -> str:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"{prefix}{path.relative_to(folder).as_posix()}")
    return f"s3://{BUCKET}/{prefix}"


def _register(sm: Any, status: str, *, prefix_uri: str | None = None, url: str | None = None) -> str:
    container: dict[str, Any] = {"Image": IMAGE}
    if prefix_uri:  # what the workflow's RegisterModel state registers
        container["ModelDataSource"] = {
            "S3DataSource": {"S3Uri": prefix_uri, "S3DataType": "S3Prefix", "CompressionType": "None"}
        }
    else:
        container["ModelDataUrl"] = url
    return sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def test_the_current_model_is_downloaded_evaluated_and_gated_against(
    aws: None,
    base_model: Path,
    tiny_model: Path,
    sft_run: RunResult,
    dpo_run: RunResult,
    datasets_root: Path,
    tmp_path: Path,
) -> None:
    import boto3

    from training.finetune.tiny import build_tiny_model

    # The approved model: another tiny model (different weights from base, SFT and DPO).
    approved = build_tiny_model(base_model, tmp_path / "approved-model", seed=1)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    approved_uri = _upload(s3, approved, "models/llm-twin-test-dpo-run2/output/model/merged/")
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", url=f"s3://{BUCKET}/models/llm-twin-test-dpo-run1/output/model/merged/")
    _register(sm, "Approved", prefix_uri=approved_uri)  # the newest Approved version
    _register(
        sm, "PendingManualApproval", prefix_uri=f"s3://{BUCKET}/models/unapproved/"
    )  # newer, not approved

    out = tmp_path / "output"
    # Judge calls go model by model, row by row: base, current, sft, dpo (2 rows each). The candidate
    # (4.0) beats the base (1.0) but not the current model (5.0): only a real comparison with the
    # current model can reject it.
    replies = [verdict(a) for a in (1, 1, 5, 5, 3, 3, 4, 4)]
    code = main(
        [
            *workflow_args(tiny_model, sft_run, dpo_run, datasets_root, out),
            "--gate",
            '{"margins": {"judge_accuracy": 0.0}}',
        ],
        judge=Judge(ScriptedModel(replies)),
        embedder=HashEmbedder(),
        settings=Settings(home=tmp_path / "home", region=REGION, aws_endpoint_url=None),
    )
    assert code == 0
    evaluation = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))

    assert f"current model: {approved_uri}" in evaluation["notes"]  # the newest Approved, by its prefix
    assert not any("unknown" in note or "compared with base" in note for note in evaluation["notes"])
    assert list(evaluation["metrics"]) == ["base", "current", "sft", "dpo"]
    assert evaluation["models"]["current"]["role"] == "current"
    current = evaluation["metrics"]["current"]
    assert current["rows"] == 2 and current["generation_errors"] == 0 and current["judge_accuracy"] == 5.0
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sum(1 for s in samples if s["model"] == "current") == 2

    assert evaluation["compared_with"] == "current"
    assert evaluation["passed"] is False
    assert evaluation["reason"].startswith("dpo vs current model: not passed")
    (comparison,) = evaluation["gate"]["comparisons"]
    assert comparison["metric"] == "judge_accuracy"
    assert comparison["candidate"] == 4.0 and comparison["reference"] == 5.0  # not the base's 1.0
    assert "current" in (out / "report.md").read_text(encoding="utf-8")
