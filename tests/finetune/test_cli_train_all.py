"""On demand: ``llm-twin train all`` (datasets from the local warehouse with a scripted LMI model, then
SFT and DPO on the tiny model) and ``llm-twin train workflow`` against moto's Step Functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llm_twin.cli.main import main
from llm_twin.llm.local_model import base_model_dir
from llm_twin.local.aws import LocalAws
from llm_twin.settings import Settings
from tests.datasets.test_entry_point import ScriptedServedModel, seed

AUTHOR = "Nell Harrowgate"
NAME = "llm-twin-dev-training"
SUCCEED = {"StartAt": "Registered", "States": {"Registered": {"Type": "Succeed"}}}
GATE = {
    "StartAt": "Rejected",
    "States": {"Rejected": {"Type": "Fail", "Error": "EvaluationGateNotPassed", "Cause": "win rate 0.4"}},
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    for key in (
        "LLM_TWIN_LLM",
        "LLM_TWIN_LOCAL_MODEL_DIR",
        "LLM_TWIN_HOME",
        "LLM_TWIN_TRAINING_STATE_MACHINE_ARN",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def home(tmp_path: Path, base_model: Path, env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local home with the session's SmolLM2 copy, a warehouse of six documents, and the scripted
    model standing in for the local LLM behind the local LMI server."""
    home = tmp_path / "home"
    base_model_dir(home).parent.mkdir(parents=True)
    base_model_dir(home).symlink_to(base_model, target_is_directory=True)
    with LocalAws(Settings(home=home)) as local:
        seed(local, AUTHOR, 6)
        local.save_snapshot()
    monkeypatch.setattr("llm_twin.llm.local_model.get_local_model", lambda settings: ScriptedServedModel())
    return home


def test_train_all_builds_datasets_then_sft_then_dpo(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "--home", str(home), "train", "all", "--tiny", "--limit", "3", "--max-steps", "2", "--json"
    )
    assert code == 0, err
    result = json.loads(out)  # stdout holds only the summary
    datasets, sft, dpo = result["datasets"], result["sft"], result["dpo"]
    assert datasets["source_documents"] == 6 and datasets["extracts_used"] == 3
    assert datasets["generator_model"] == "scripted-lmi"
    instruct, preference = datasets["datasets"]["instruct"]["uri"], datasets["datasets"]["preference"]["uri"]
    assert Path(instruct).parent == home / "datasets" / "instruct"
    assert (Path(instruct).parent / "LATEST").read_text().strip() == Path(instruct).name

    assert (sft["kind"], sft["steps"], sft["dataset_dir"]) == ("sft", 2, instruct)
    assert sft["base_model"] == str(home / "models" / "tiny-smollm2")
    assert (dpo["kind"], dpo["steps"], dpo["dataset_dir"]) == ("dpo", 2, preference)
    assert dpo["base_model"] == sft["merged_dir"]  # DPO on this SFT result
    assert (Path(dpo["merged_dir"]) / "config.json").is_file()
    assert sft["published_dir"] is None and dpo["published_dir"] is None  # tiny runs are never served
    runs = sorted(p.name.split("-")[0] for p in (home / "training" / "runs").iterdir())
    assert runs == ["dpo", "sft"]


def test_train_all_and_workflow_option_errors(
    tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = str(tmp_path / "empty")
    code, _, err = _run(capsys, "--home", empty, "train", "all", "--tiny")
    assert code == 2 and "no documents" in err and "llm-twin collect" in err
    for argv, message in (
        (["all", "--sagemaker"], "--sagemaker cannot be combined with `llm-twin train all`"),
        (["all", "--base", "x"], "--base cannot be combined"),
        (["sft", "--limit", "3"], "--limit applies to `llm-twin train all` only"),
        (["dpo", "--wait"], "--wait applies to `llm-twin train workflow` only"),
        (["workflow", "--tiny"], "--tiny cannot be combined with `llm-twin train workflow`"),
        (["workflow", "--max-steps", "2"], "--max-steps cannot be combined"),
        (["workflow"], "LLM_TWIN_TRAINING_STATE_MACHINE_ARN is not set"),
    ):
        code, _, err = _run(capsys, "--home", empty, "train", *argv)
        assert code == 2 and message in err, (argv, err)


@contextmanager
def training_machine(definition: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's Step Functions (running the definition) with the training machine; its ARN in the env."""
    import boto3
    from moto import mock_aws

    from llm_twin.local.clients import clear_clients

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("LLM_TWIN_AWS_ENDPOINT_URL", "LLM_TWIN_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("llm_twin.cli.train.POLL_SECONDS", 0.05)
    clear_clients()
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            arn = sfn.create_state_machine(
                name=NAME, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
            )["stateMachineArn"]
            monkeypatch.setenv("LLM_TWIN_TRAINING_STATE_MACHINE_ARN", arn)
            yield sfn
    finally:
        clear_clients()


def test_train_workflow_starts_and_waits(
    tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    with training_machine(SUCCEED, monkeypatch) as sfn:
        code, out, err = _run(capsys, "--home", home, "train", "workflow", "--wait", "--json")
        assert code == 0, err
        execution = json.loads(out)
        assert execution["status"] == "SUCCEEDED" and execution["stopped_at"]
        (listed,) = sfn.list_executions(
            stateMachineArn=sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        )["executions"]
        assert listed["name"] == execution["execution_id"]
        assert json.loads(sfn.describe_execution(executionArn=listed["executionArn"])["input"]) == {
            "source": "cli"
        }

        code, out, _ = _run(capsys, "--home", home, "train", "workflow")  # no --wait: started, exit 0
        assert code == 0 and out.startswith("started training workflow execution ")
        assert f":execution:{NAME}:" in out


def test_train_workflow_wait_reports_a_failed_run(
    tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with training_machine(GATE, monkeypatch):
        code, out, _ = _run(capsys, "--home", str(tmp_path / "home"), "train", "workflow", "--wait")
    assert code == 1
    assert ": FAILED\n" in out and "EvaluationGateNotPassed: win rate 0.4" in out
