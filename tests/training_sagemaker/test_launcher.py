"""``launch_training`` against moto's SageMaker control plane: the CreateTrainingJob request it sends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from training.finetune.config import parse_config
from training.sagemaker import images
from training.sagemaker.launcher import LaunchError, SageMakerSettings, launch_training

pytest.importorskip("sagemaker.train")
moto = pytest.importorskip("moto")

BUCKET = "llm-twin-dev-artifacts-123456789012-us-east-1"
ROLE = "arn:aws:iam::123456789012:role/llm-twin-dev-sagemaker"
LORA = {"lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "lora_target_modules": "all-linear"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process; the session records every CreateTrainingJob request the SDK sends."""
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }.items():
        monkeypatch.setenv(key, value)
    with moto.mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=BUCKET)
        requests: list[dict[str, Any]] = []
        session.events.register(
            "provide-client-params.sagemaker.CreateTrainingJob", lambda params, **_: requests.append(params)
        )
        yield {"session": session, "requests": requests}


def settings(**overrides: Any) -> SageMakerSettings:
    return SageMakerSettings(role_arn=ROLE, bucket=BUCKET, **overrides)


def sft_config(**overrides: Any) -> Any:
    values = {
        "base_model": "Qwen/Qwen2.5-7B-Instruct",
        "dataset_dir": f"s3://{BUCKET}/datasets/instruct/0123456789abcdef/",
        "output_dir": "/opt/ml/output/data",
        "learning_rate": "2e-4",
        "batch_size": "2",
        "max_length": "1024",
        "epochs": "1",
        "save_steps": "50",
        **LORA,
        **overrides,
    }
    return parse_config("sft", values)


def test_sft_launch_sends_the_expected_request(aws: dict[str, Any]) -> None:
    config = sft_config()
    name = launch_training(
        "sft", config, settings(hf_token_secret_name="llm-twin/hf-token"), boto_session=aws["session"]
    )
    (request,) = aws["requests"]
    assert request["TrainingJobName"] == name
    assert name.startswith("llm-twin-sft-") and len(name) <= 63
    assert request["RoleArn"] == ROLE
    algorithm = request["AlgorithmSpecification"]
    assert algorithm["TrainingImage"] == images.training_image_uri("us-east-1")
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
    }
    assert channels["train"] == config.dataset_dir
    assert "model" not in channels  # a Hub id is a hyperparameter
    assert channels["code"].startswith(f"s3://{BUCKET}/code/")
    assert request["HyperParameters"] == config.to_hyperparameters()
    assert request["HyperParameters"]["base_model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert "dataset_dir" not in request["HyperParameters"]
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 8 * 3600,
        "MaxWaitTimeInSeconds": 16 * 3600,
    }
    base = name.rsplit("-", 1)[0]
    assert request["CheckpointConfig"] == {
        "S3Uri": f"s3://{BUCKET}/checkpoints/{base}/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.g5.2xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 100,
    }
    assert request["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{BUCKET}/models/",
        "CompressionType": "NONE",
    }
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert request["Environment"] == {"LLM_TWIN_HF_TOKEN_SECRET_NAME": "llm-twin/hf-token"}
    assert {t["Key"]: t["Value"] for t in request["Tags"]} == {"project": "llm-twin", "llm-twin:kind": "sft"}
    # the code the job runs, and the job exists
    s3 = aws["session"].client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="code/")["Contents"]]
    assert any(k.endswith("/code/requirements.txt") for k in keys)
    assert any(k.endswith("/code/training/sagemaker/bootstrap.py") for k in keys)
    described = aws["session"].client("sagemaker").describe_training_job(TrainingJobName=name)
    assert described["TrainingJobName"] == name


def test_two_launches_get_different_job_names(aws: dict[str, Any]) -> None:
    names = {launch_training("sft", sft_config(), settings(), boto_session=aws["session"]) for _ in range(2)}
    assert len(names) == 2


def test_dpo_launch_takes_the_sft_model_as_the_model_channel(aws: dict[str, Any]) -> None:
    merged = f"s3://{BUCKET}/models/llm-twin-sft-abc/output/model/merged/"
    config = parse_config(
        "dpo",
        {
            "base_model": merged,
            "dataset_dir": f"s3://{BUCKET}/datasets/preference/fedcba9876543210/",
            "output_dir": "/opt/ml/output/data",
            "learning_rate": "2e-5",
            "batch_size": "1",
            "max_length": "1024",
            "epochs": "1",
            "beta": "0.1",
            **LORA,
        },
    )
    launch_training(
        "dpo", config, settings(spot=False, instance_type="ml.g6e.xlarge"), boto_session=aws["session"]
    )
    (request,) = aws["requests"]
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
    }
    assert channels["model"] == merged
    assert "base_model" not in request["HyperParameters"]
    assert request["HyperParameters"]["beta"] == "0.1"
    assert request["EnableManagedSpotTraining"] is False
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 8 * 3600}
    assert request["ResourceConfig"]["InstanceType"] == "ml.g6e.xlarge"
    assert "Environment" not in request or not request["Environment"]


def test_a_local_dataset_folder_is_uploaded(aws: dict[str, Any], tmp_path: Path) -> None:
    dataset = tmp_path / "instruct" / "0123456789abcdef"
    dataset.mkdir(parents=True)
    (dataset / "train.jsonl").write_text("{}\n")
    (dataset / "test.jsonl").write_text("{}\n")
    launch_training("sft", sft_config(dataset_dir=str(dataset)), settings(), boto_session=aws["session"])
    (request,) = aws["requests"]
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]
    }
    assert channels["train"].startswith(f"s3://{BUCKET}/code/")
    keys = [o["Key"] for o in aws["session"].client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any(k.endswith("/train/train.jsonl") for k in keys)


def test_inconsistent_requests_are_rejected_before_any_call(aws: dict[str, Any]) -> None:
    with pytest.raises(LaunchError, match="sft config"):
        launch_training("dpo", sft_config(), settings(), boto_session=aws["session"])
    with pytest.raises(LaunchError, match="dataset_dir"):
        launch_training(
            "sft", sft_config(dataset_dir="/does/not/exist"), settings(), boto_session=aws["session"]
        )
    dpo_on_hub = parse_config(
        "dpo",
        {
            **{k: v for k, v in sft_config().model_dump(mode="json").items() if k not in ("kind", "lora")},
            "beta": "0.1",
            **LORA,
        },
    )
    with pytest.raises(LaunchError, match="merged SFT model"):
        launch_training("dpo", dpo_on_hub, settings(), boto_session=aws["session"])
    assert aws["requests"] == []


def test_settings_validation_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="spot"):
        settings(spot=False, max_wait_s=7200)
    with pytest.raises(ValueError, match="max_wait_s"):
        settings(max_runtime_s=7200, max_wait_s=3600)
    for name in ("LLM_TWIN_SAGEMAKER_REGION", "LLM_TWIN_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_TWIN_SAGEMAKER_ROLE_ARN", ROLE)
    monkeypatch.setenv("LLM_TWIN_SAGEMAKER_BUCKET", BUCKET)
    monkeypatch.setenv("LLM_TWIN_SAGEMAKER_SPOT", "false")
    monkeypatch.setenv("LLM_TWIN_SAGEMAKER_HF_TOKEN_SECRET_NAME", "")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    loaded = SageMakerSettings()  # type: ignore[call-arg]
    assert (loaded.role_arn, loaded.bucket, loaded.spot, loaded.region) == (ROLE, BUCKET, False, "eu-west-1")
    assert loaded.hf_token_secret_name is None
    assert loaded.effective_max_wait_s is None
    assert loaded.effective_image_uri == images.training_image_uri("eu-west-1")
