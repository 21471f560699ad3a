"""The training workflow (issue 5): ASL + substitutions, artifacts bucket, roles, schedule, nag, cfn-lint.

A test stack holds the construct and the real constructs it needs (warehouse table, log key, monitoring
topic). The synthesized definition is also executed by the project's local runner with the SageMaker,
S3 and SNS tasks routed to fakes, so the data flow (job names, channels, the gate) is tested on the
definition CloudFormation deploys.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from infra.training_config import TrainingConfig, TrainingScheduleConfig, parse_training_config
from llm_twin.workflows.catalog import TRAINING
from training.sagemaker.deploy import ServingOptions, lmi_environment

pytestmark = pytest.mark.infra

STACK = "TrainingTest"
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
PREFIX = "llm-twin-dev"
SAGEMAKER_TASKS = {
    "BuildDatasets": "arn:aws:states:::sagemaker:createProcessingJob.sync",
    "TrainSft": "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "TrainDpo": "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "Evaluate": "arn:aws:states:::sagemaker:createProcessingJob.sync",
}
MAIN_PATH = [
    "Configure",
    "BuildDatasets",
    "ReadInstructVersion",
    "ReadPreferenceVersion",
    "ResolveDatasetVersions",
    "TrainSft",
    "TrainDpo",
    "Evaluate",
    "ReadEvaluation",
    "EvaluationPassed",
    "RegisterModel",
    "NotifyRegistered",
    "Registered",
]
EXECUTION = "0b6d3c1e-5f7a-4c2b-9e8d-1a2b3c4d5e6f"  # what StartExecution without a name generates
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass
class Built:
    app: Any
    stack: Any
    workflow: Any
    artifacts: Any
    template: dict[str, Any] | None = None
    template_path: Path | None = None
    outdir: Path | None = None

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        assert self.template is not None
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == cfn_type}

    def only(self, cfn_type: str) -> dict[str, Any]:
        found = self.resources(cfn_type)
        assert len(found) == 1, sorted(found)
        return next(iter(found.values()))

    def logical_id(self, construct: Any) -> str:
        element = getattr(construct.node, "default_child", None) or construct
        return str(self.stack.resolve(self.stack.get_logical_id(element)))

    def statements(self, role: Any) -> list[dict[str, Any]]:
        role_id = self.logical_id(role)
        assert self.template is not None
        found = []
        for resource in self.template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in props.get("Roles", []):
                found += props["PolicyDocument"]["Statement"]
        return found


def build(
    outdir: Path | None = None,
    *,
    training: TrainingConfig | None = None,
    env_name: str = "dev",
    region: str | None = None,
    nag_checks: bool = True,
    spec: Any = TRAINING,
) -> Built:
    """The test stack; synthesized (with cdk-nag) when ``outdir`` is given."""
    from aws_cdk import App, Environment, Stack

    from infra.application import cdk_json_context
    from infra.config import InfraConfig
    from infra.constructs.log_encryption import LogEncryption
    from infra.constructs.monitoring import Monitoring
    from infra.constructs.training_buckets import TrainingArtifacts
    from infra.constructs.training_workflow import TrainingWorkflow
    from infra.constructs.warehouse import Warehouse
    from infra.nag import add_nag_checks

    config = InfraConfig(env_name=env_name)
    training = training or TrainingConfig()
    app = App(context={**cdk_json_context(), **NO_BUNDLING}, outdir=str(outdir) if outdir else None)
    stack = Stack(app, STACK, env=Environment(region=region) if region else None)
    warehouse = Warehouse(stack, "Warehouse", config=config)
    log_key = LogEncryption(stack, "LogEncryption", config=config).key
    monitoring = Monitoring(stack, "Monitoring", config=config)
    artifacts = TrainingArtifacts(stack, "TrainingArtifacts", config=config, training=training)
    workflow = TrainingWorkflow(
        stack,
        "TrainingWorkflow",
        config=config,
        artifacts=artifacts,
        warehouse=warehouse,
        log_key=log_key,
        topic=monitoring.topic,
        topic_key=monitoring.key,
        training=training,
        spec=spec,
    )
    built = Built(app=app, stack=stack, workflow=workflow, artifacts=artifacts, outdir=outdir)
    if outdir is not None:
        if nag_checks:
            add_nag_checks(app)
        artifact = app.synth().get_stack_artifact(STACK)
        built.template = artifact.template
        built.template_path = Path(artifact.template_full_path)
    return built


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if shutil.which("node") is None:
        pytest.skip("the CDK needs node on PATH")
    return build(tmp_path_factory.mktemp("training-cdk-out"))


@pytest.fixture(scope="module")
def state_machine(built: Built) -> dict[str, Any]:
    return built.only("AWS::StepFunctions::StateMachine")


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(TRAINING.asl_path.read_text(encoding="utf-8"))


def fake_substitutions(built: Built) -> dict[str, str]:
    """The template's substitutions with CloudFormation references replaced by plausible values."""
    props = built.only("AWS::StepFunctions::StateMachine")["Properties"]
    fakes = {
        "SageMakerRoleArn": "arn:aws:iam::123456789012:role/llm-twin-dev-sagemaker",
        "ArtifactsBucket": f"{PREFIX}-artifacts-123456789012-us-east-1",
        "CodeS3Uri": "s3://cdk-hnb659fds-assets-123456789012-us-east-1/abc.tgz",
        "WarehouseTableName": "llm-twin-warehouse",
        "Region": "us-east-1",
        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
        "TrainingImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:x",
        "ProcessingImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:x",
        "InferenceImageUri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:x",
    }
    values = {}
    for key, value in props["DefinitionSubstitutions"].items():
        values[key] = value if isinstance(value, str) else fakes[key]
    return values


def deployed_definition(built: Built) -> dict[str, Any]:
    from llm_twin.workflows.definitions import load_definition

    props = built.only("AWS::StepFunctions::StateMachine")["Properties"]
    return load_definition(props["DefinitionString"], fake_substitutions(built))


# --- the definition ----------------------------------------------------------------------------------


def test_states_follow_the_pipeline_in_order(asl: dict[str, Any]) -> None:
    states = asl["States"]
    path, name = [], asl["StartAt"]
    while name is not None:
        path.append(name)
        state = states[name]
        # a Choice continues on its first (passed) branch
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state.get("Next")
    assert path == MAIN_PATH
    assert states["Registered"]["Type"] == "Succeed"
    assert asl["TimeoutSeconds"] == 7 * 24 * 3600


def test_definition_string_is_the_file_and_every_placeholder_is_substituted(
    built: Built, state_machine: dict[str, Any]
) -> None:
    from infra.constructs.training_workflow import asl_placeholders

    props = state_machine["Properties"]
    text = TRAINING.asl_path.read_text(encoding="utf-8")
    assert props["DefinitionString"] == text
    assert "DefinitionS3Location" not in props
    placeholders = asl_placeholders(text)
    assert placeholders == set(props["DefinitionSubstitutions"]) == set(built.workflow.substitutions)
    assert all(value not in ("", None) for value in props["DefinitionSubstitutions"].values())
    assert TRAINING.functions == {}  # no Lambda function: the catalog entry only names the file


def test_construct_rejects_an_asl_it_does_not_fill(tmp_path: Path) -> None:
    asl_file = tmp_path / "training.asl.json"
    asl_file.write_text(TRAINING.asl_path.read_text().replace("${Region}", "${Unknown}"))
    spec = replace(TRAINING, asl_file=str(asl_file))
    with pytest.raises(ValueError, match="Unknown"):
        build(spec=spec)


def test_sagemaker_steps_run_jobs_to_completion(asl: dict[str, Any]) -> None:
    states = asl["States"]
    for name, resource in SAGEMAKER_TASKS.items():
        assert states[name]["Resource"] == resource  # .sync = RUN_JOB
    register = states["RegisterModel"]
    assert register["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    params = register["Parameters"]
    assert params["ModelApprovalStatus"] == "PendingManualApproval"
    assert params["ModelPackageGroupName"] == "${ModelPackageGroupName}"
    (container,) = params["InferenceSpecification"]["Containers"]
    assert container["Image"] == "${InferenceImageUri}"
    source = container["ModelDataSource"]["S3DataSource"]
    assert source["S3DataType"] == "S3Prefix"
    assert source["CompressionType"] == "None"
    assert "$.jobs.dpo" in source["S3Uri.$"] and source["S3Uri.$"].endswith("merged/', $.jobs.dpo)")


def test_job_names_are_unique_per_execution(asl: dict[str, Any]) -> None:
    jobs = asl["States"]["Configure"]["Parameters"]["jobs"]
    steps = {}
    for key, expression in jobs.items():
        match = re.fullmatch(
            r"States\.Format\('\$\{JobNamePrefix\}-([a-z]+)-\{\}', \$\$\.Execution\.Name\)", expression
        )
        assert match, expression
        steps[key.removesuffix(".$")] = match.group(1)
    assert len(set(steps.values())) == len(steps) == 4
    name_fields = {
        "BuildDatasets": ("ProcessingJobName.$", "$.jobs.datasets"),
        "TrainSft": ("TrainingJobName.$", "$.jobs.sft"),
        "TrainDpo": ("TrainingJobName.$", "$.jobs.dpo"),
        "Evaluate": ("ProcessingJobName.$", "$.jobs.evaluate"),
    }
    for state, (field, path) in name_fields.items():
        assert asl["States"][state]["Parameters"][field] == path


def test_rendered_job_names_are_valid_sagemaker_names(built: Built) -> None:
    from llm_twin.workflows.dataflow import render

    definition = deployed_definition(built)
    jobs = render(definition["States"]["Configure"]["Parameters"], {}, {"Execution": {"Name": EXECUTION}})[
        "jobs"
    ]
    assert jobs == {
        "datasets": f"{PREFIX}-data-{EXECUTION}",
        "sft": f"{PREFIX}-sft-{EXECUTION}",
        "dpo": f"{PREFIX}-dpo-{EXECUTION}",
        "evaluate": f"{PREFIX}-eval-{EXECUTION}",
    }
    assert all(JOB_NAME.match(name) and len(name) <= 63 for name in jobs.values())


def test_every_task_retries_and_catches(asl: dict[str, Any]) -> None:
    states = asl["States"]
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), name
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        if name.startswith("Notify"):
            assert catch["Next"] == states[name]["Next"]  # a failed notification never hides the outcome
        else:
            assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}
    for name in SAGEMAKER_TASKS:
        (retry,) = states[name]["Retry"]
        assert set(retry["ErrorEquals"]) == {
            "SageMaker.AmazonSageMakerException",  # throttling ("Rate exceeded") on create
            "SageMaker.ResourceLimitExceededException",  # instance quota held by other jobs
        }
        assert retry["MaxAttempts"] >= 3 and retry["BackoffRate"] >= 2
    for name in ("TrainSft", "TrainDpo"):
        assert (
            states[name]["Parameters"]["RetryStrategy.$"] == "States.StringToJson('${TrainingRetryStrategy}')"
        )
    failure = states["NotifyFailure"]
    assert failure["Resource"] == "arn:aws:states:::sns:publish"
    assert failure["Parameters"]["TopicArn"] == "${NotificationTopicArn}"
    assert states["Failed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_choice_registers_only_a_passed_evaluation(asl: dict[str, Any]) -> None:
    from llm_twin.workflows.choice import choose

    gate = asl["States"]["EvaluationPassed"]
    assert gate["Choices"][0]["Next"] == "RegisterModel"

    def next_state(report: Any) -> str:
        return choose(gate, {"evaluation": {"report": report}}, {})

    assert next_state({"passed": True, "metrics": {}}) == "RegisterModel"
    assert next_state({"passed": False, "reason": "style 3.1 < 3.5"}) == "NotifyRejected"
    assert next_state({"passed": "true", "reason": "a string is not a boolean"}) == "NotifyRejected"
    assert next_state({"metrics": {}}) == "NoReasonGiven"
    assert asl["States"]["Rejected"] == {
        "Type": "Fail",
        "Error": "EvaluationGateNotPassed",
        "CausePath": "$.evaluation.report.reason",
    }


def test_deployed_definition_passes_the_local_runner_checks(built: Built) -> None:
    """Structure, paths, intrinsic syntax and Choice rules, once the non-Lambda tasks are swapped out
    (the local runner only executes Lambda tasks)."""
    from llm_twin.workflows.definitions import validate_definition

    validate_definition(_as_lambda_tasks(deployed_definition(built))[0])


def _as_lambda_tasks(definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each Task's Resource becomes a Lambda ARN named after its integration (createTrainingJob.sync ->
    sagemaker-createTrainingJob-sync); returns the definition and state -> function name."""
    definition = copy.deepcopy(definition)
    names = {}
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            function = re.sub(r"[^A-Za-z0-9-]", "-", state["Resource"].split(":::", 1)[1])
            names[name] = function
            state["Resource"] = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    return definition, names


def test_configured_objects_survive_both_escapings(built: Built) -> None:
    """The hyperparameters, resources and stopping conditions CloudFormation substitutes come back, after
    JSON parsing and intrinsic evaluation, as the objects the construct meant."""
    from llm_twin.workflows.dataflow import render

    definition = deployed_definition(built)
    context = {"Execution": {"Name": EXECUTION}}
    data = {
        "jobs": {"sft": "j-sft", "dpo": "j-dpo"},
        "datasets": {"instruct": {"version": "v1"}, "preference": {"version": "v2"}},
    }
    sft = render(definition["States"]["TrainSft"]["Parameters"], data, context)
    dpo = render(definition["States"]["TrainDpo"]["Parameters"], data, context)
    workflow = built.workflow
    assert sft["HyperParameters"] == workflow.hyperparameters["sft"]
    assert sft["HyperParameters"]["base_model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert sft["HyperParameters"]["quantization"] == "qlora-4bit"
    assert all(isinstance(v, str) for v in sft["HyperParameters"].values())
    assert dpo["HyperParameters"] == workflow.hyperparameters["dpo"]
    assert "base_model" not in dpo["HyperParameters"]  # the model channel
    assert dpo["HyperParameters"]["beta"] == "0.1"
    assert sft["ResourceConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.g5.2xlarge",
        "VolumeSizeInGB": 100,
    }
    assert sft["StoppingCondition"] == {"MaxRuntimeInSeconds": 8 * 3600, "MaxWaitTimeInSeconds": 16 * 3600}
    assert sft["EnableManagedSpotTraining"] is True
    assert sft["CheckpointConfig"] == {
        "S3Uri": f"s3://{PREFIX}-artifacts-123456789012-us-east-1/checkpoints/j-sft/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert sft["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert sft["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{PREFIX}-artifacts-123456789012-us-east-1/models/",
        "CompressionType": "NONE",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in dpo["InputDataConfig"]}
    bucket = f"s3://{PREFIX}-artifacts-123456789012-us-east-1"
    assert channels == {
        "train": f"{bucket}/datasets/preference/v2/",
        "model": f"{bucket}/models/j-sft/output/model/merged/",
        "code": "s3://cdk-hnb659fds-assets-123456789012-us-east-1/abc.tgz",
    }
    spec = dpo["AlgorithmSpecification"]
    from training.sagemaker.source import CONTAINER_SCRIPT

    assert spec["ContainerEntrypoint"] == ["/bin/bash", "-c", CONTAINER_SCRIPT]
    assert spec["ContainerArguments"] == ["bootstrap", "/opt/ml/input/data/code", "training.finetune.dpo"]
    assert all(len(arg) <= 256 for arg in [*spec["ContainerEntrypoint"], *spec["ContainerArguments"]])


def test_spot_off_drops_the_wait_and_other_knobs_reach_the_jobs() -> None:
    from llm_twin.workflows.dataflow import render
    from llm_twin.workflows.definitions import load_definition

    training = TrainingConfig(
        spot=False,
        training=replace(TrainingConfig().training, instance_type="ml.g6e.xlarge", max_runtime_minutes=60),
        sft_hyperparameters={**TrainingConfig().sft_hyperparameters, "learning_rate": 1e-4, "epochs": 2},
        hf_token_secret_name="",
    )
    workflow = build(training=training).workflow
    subs = {
        k: v if isinstance(v, str) and "${Token" not in v else "x" for k, v in workflow.substitutions.items()
    }
    definition = load_definition(workflow.definition, subs)
    data = {"jobs": {"sft": "j"}, "datasets": {"instruct": {"version": "v"}}}
    sft = render(definition["States"]["TrainSft"]["Parameters"], data, {"Execution": {"Name": "e"}})
    assert sft["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert sft["EnableManagedSpotTraining"] is False
    assert sft["ResourceConfig"]["InstanceType"] == "ml.g6e.xlarge"
    assert sft["HyperParameters"]["learning_rate"] == "0.0001"
    assert sft["HyperParameters"]["epochs"] == "2.0"
    assert sft["Environment"] == {"LLM_TWIN_HF_TOKEN_SECRET_NAME": "none"}


def test_intrinsic_json_escapes_the_reserved_characters() -> None:
    from infra.constructs.training_workflow import intrinsic_json
    from llm_twin.workflows import intrinsics

    value = {"a'b": 'c{d}e\\f"g', "n": 3, "t": True, "x": "☃"}
    asl_text = '{"v.$": "States.StringToJson(\'' + intrinsic_json(value) + "')\"}"
    expression = json.loads(asl_text)["v.$"]
    assert intrinsics.evaluate(intrinsics.parse(expression), {}, {}) == value


def test_registered_package_and_endpoint_share_one_serving_environment(
    synthesizer: Any, tmp_path: Path
) -> None:
    """The whole app from one context: the environment RegisterModel registers (the training stack's
    substitution, evaluated as Step Functions evaluates it) is the endpoint model's environment in the
    serving stack, for non-default engine settings too."""
    from llm_twin.workflows.dataflow import render
    from llm_twin.workflows.definitions import load_definition

    context = {
        "endpointEnabled": "true",
        "endpointModelDataUrl": "s3://my-models/twin/merged/",
        "endpointEngine": "rolling-batch",
        "endpointMaxModelLen": "8192",
        "endpointMaxBatchSize": "16",
        "endpointTensorParallelDegree": "1",
    }
    app = synthesizer(tmp_path, context, nag_checks=False)
    props = app.only("LlmTwinTrainingStack", "AWS::StepFunctions::StateMachine")["Properties"]
    substitutions = {k: v if isinstance(v, str) else "x" for k, v in props["DefinitionSubstitutions"].items()}
    definition = load_definition(props["DefinitionString"], substitutions)
    data = {
        "jobs": {"sft": "j-sft", "dpo": "j-dpo"},
        "datasets": {"instruct": {"version": "v1"}, "preference": {"version": "v2"}},
    }
    package = render(
        definition["States"]["RegisterModel"]["Parameters"],
        data,
        {"Execution": {"Name": EXECUTION, "Id": "x"}},
    )
    (container,) = package["InferenceSpecification"]["Containers"]
    model = app.only("LlmTwinServingStack", "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]
    assert container["Environment"] == model["Environment"]
    assert container["Environment"] == lmi_environment(
        ServingOptions(
            engine="rolling-batch", max_model_len=8192, max_batch_size=16, tensor_parallel_degree="1"
        )
    )
    assert container["Environment"]["OPTION_ROLLING_BATCH"] == "vllm"
    assert container["Environment"]["OPTION_MAX_MODEL_LEN"] == "8192"


# --- executing the deployed definition with fakes ----------------------------------------------------


class FakeAws:
    """Stand-ins for the SageMaker, S3 and SNS integrations: record requests, answer like AWS."""

    def __init__(self, report: dict[str, Any] | None, fail: dict[str, Exception] | None = None) -> None:
        self.report = report
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handlers(self, names: dict[str, str]) -> dict[str, Any]:
        return {function: self._handler(function) for function in set(names.values())}

    def _handler(self, function: str) -> Any:
        def handle(event: dict[str, Any], _context: Any) -> Any:
            self.calls.append((function, event))
            error = self.fail.pop(function, None)
            if error is not None:
                raise error
            return self.answer(function, event)

        return handle

    def answer(self, function: str, event: dict[str, Any]) -> Any:
        if function == "sagemaker-createProcessingJob-sync":
            name = event["ProcessingJobName"]
            return {"ProcessingJobName": name, "ProcessingJobArn": f"arn:processing-job/{name}"}
        if function == "sagemaker-createTrainingJob-sync":
            name = event["TrainingJobName"]
            output = f"{event['OutputDataConfig']['S3OutputPath']}{name}/output/model/"
            return {
                "TrainingJobArn": f"arn:training-job/{name}",
                "ModelArtifacts": {"S3ModelArtifacts": output},
            }
        if function == "aws-sdk-s3-getObject":
            if event["Key"].endswith("/LATEST"):
                return {"Body": f"{event['Key'].split('/')[1]}-0123456789abcdef\n"}
            return {"Body": json.dumps(self.report)}
        if function == "aws-sdk-sagemaker-createModelPackage":
            return {"ModelPackageArn": f"arn:model-package/{event['ModelPackageGroupName']}/1"}
        if function == "sns-publish":
            return {"MessageId": "m-1"}
        raise AssertionError(f"unexpected task {function}")

    def requests(self, function: str) -> list[dict[str, Any]]:
        return [event for name, event in self.calls if name == function]


def run(built: Built, fake: FakeAws) -> Any:
    from llm_twin.workflows.runner import LocalStateMachine

    definition, names = _as_lambda_tasks(deployed_definition(built))
    machine = LocalStateMachine(definition, fake.handlers(names), sleep=lambda _s: None, name="training")
    return machine.execute({}, name=EXECUTION)


def test_a_passing_run_registers_a_pending_model_package(built: Built) -> None:
    fake = FakeAws({"passed": True, "reason": "beats the current model", "metrics": {"style": 4.2}})
    execution = run(built, fake)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    bucket = f"s3://{PREFIX}-artifacts-123456789012-us-east-1"

    (datasets, evaluate) = fake.requests("sagemaker-createProcessingJob-sync")
    assert datasets["ProcessingJobName"] == f"{PREFIX}-data-{EXECUTION}"
    assert datasets["AppSpecification"]["ContainerArguments"][2:] == [
        "training.datasets.build",
        "--output",
        f"{bucket}/datasets",
        "--kind",
        "all",
        "--concurrency",
        "4",
    ]
    assert datasets["Environment"]["LLM_TWIN_LLM"] == "bedrock"
    assert (
        datasets["Environment"]["LLM_TWIN_BEDROCK_CHAT_MODEL_ID"] == "anthropic.claude-3-haiku-20240307-v1:0"
    )

    sft, dpo = fake.requests("sagemaker-createTrainingJob-sync")
    assert sft["TrainingJobName"] == f"{PREFIX}-sft-{EXECUTION}"
    assert sft["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"{bucket}/datasets/instruct/instruct-0123456789abcdef/"  # LATEST's trailing newline is dropped
    )
    assert dpo["InputDataConfig"][1]["ChannelName"] == "model"
    assert {t["Key"]: t["Value"] for t in sft["Tags"]} == {"project": "llm-twin", "llm-twin:run": EXECUTION}

    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert inputs["model"] == f"{bucket}/models/{PREFIX}-dpo-{EXECUTION}/output/model/merged/"
    assert inputs["sft"] == f"{bucket}/models/{PREFIX}-sft-{EXECUTION}/output/model/merged/"
    assert inputs["dataset"] == f"{bucket}/datasets/instruct/instruct-0123456789abcdef/"
    (output,) = evaluate["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"{bucket}/evaluations/{EXECUTION}/"

    (package,) = fake.requests("aws-sdk-sagemaker-createModelPackage")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageGroupName"] == f"{PREFIX}-twin"
    assert re.fullmatch(r"[0-9a-f]{32}", package["ClientToken"])
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataSource"]["S3DataSource"]["S3Uri"] == inputs["model"]
    # The endpoint's serving environment (default: the async vLLM engine), not a copy in the ASL file.
    assert (
        container["Environment"]
        == lmi_environment(ServingOptions())
        == built.workflow.model_package_environment
    )
    assert container["Environment"]["OPTION_ASYNC_MODE"] == "true"
    assert container["Environment"]["OPTION_ROLLING_BATCH"] == "disable"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        f"{bucket}/evaluations/{EXECUTION}/evaluation.json"
    )
    assert package["CustomerMetadataProperties"]["preference_dataset"] == "preference-0123456789abcdef"
    (notice,) = fake.requests("sns-publish")
    assert "PendingManualApproval" in notice["Message"]


def test_a_rejected_run_fails_with_the_reason_and_registers_nothing(built: Built) -> None:
    fake = FakeAws({"passed": False, "reason": "style 3.1 below the deployed model's 3.6"})
    execution = run(built, fake)
    assert execution.status == "FAILED"
    assert execution.error == "EvaluationGateNotPassed"
    assert execution.cause == "style 3.1 below the deployed model's 3.6"
    assert not fake.requests("aws-sdk-sagemaker-createModelPackage")
    (notice,) = fake.requests("sns-publish")
    assert "style 3.1" in notice["Message"]


def test_a_failed_job_notifies_and_fails_with_its_error(built: Built) -> None:
    failed = type("States.TaskFailed", (Exception,), {})("CapacityError: Unable to provision ml.g5.2xlarge")
    fake = FakeAws({"passed": True}, fail={"sagemaker-createTrainingJob-sync": failed})
    execution = run(built, fake)
    assert execution.status == "FAILED"
    assert execution.error == "States.TaskFailed"
    assert len(fake.requests("sagemaker-createTrainingJob-sync")) == 1  # a failed job is not re-created
    (notice,) = fake.requests("sns-publish")
    assert notice["Subject"] == "llm-twin training run failed"
    assert "CapacityError" in notice["Message"] and EXECUTION in notice["Message"]


def test_throttled_job_creation_is_retried(built: Built) -> None:
    throttled = type("SageMaker.AmazonSageMakerException", (Exception,), {})("Rate exceeded")
    fake = FakeAws({"passed": True}, fail={"sagemaker-createProcessingJob-sync": throttled})
    execution = run(built, fake)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    names = [e["ProcessingJobName"] for e in fake.requests("sagemaker-createProcessingJob-sync")]
    assert names[:2] == [f"{PREFIX}-data-{EXECUTION}"] * 2  # same name: the first create never happened


# --- bucket, registry ---------------------------------------------------------------------------------


def test_artifacts_bucket(built: Built) -> None:
    bucket_id = built.logical_id(built.artifacts.bucket)
    bucket = built.template["Resources"][bucket_id]  # type: ignore[index]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": built.logical_id(built.artifacts.log_bucket)},
        "LogFilePrefix": "artifacts/",
    }
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    assert rules["ExpireCheckpoints"]["Prefix"] == "checkpoints/"
    assert rules["ExpireCheckpoints"]["ExpirationInDays"] == 7
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    name = built.stack.resolve(built.artifacts.bucket_name)
    assert props["BucketName"] == name
    # TLS only
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in built.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (statements,) = policies
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_access_log_bucket_is_private_and_expires(built: Built) -> None:
    logs = built.template["Resources"][built.logical_id(built.artifacts.log_bucket)]["Properties"]  # type: ignore[index]
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert logs["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    (rule,) = logs["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 30


def test_model_package_group(built: Built) -> None:
    group = built.only("AWS::SageMaker::ModelPackageGroup")
    assert group["Properties"]["ModelPackageGroupName"] == f"{PREFIX}-twin"
    assert group["DeletionPolicy"] == "Retain"


# --- IAM ----------------------------------------------------------------------------------------------


def _resources_of(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    return [
        json.dumps(r) if not isinstance(r, str) else r
        for r in (resources if isinstance(resources, list) else [resources])
    ]


def _actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_sagemaker_execution_role_is_least_privilege(built: Built) -> None:
    role = built.template["Resources"][built.logical_id(built.workflow.role)]  # type: ignore[index]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = built.statements(built.workflow.role)
    by_sid = {s.get("Sid"): s for s in statements}
    for statement in statements:
        assert all(not a.endswith("*") for a in _actions_of(statement)), statement
        if _resources_of(statement) == ["*"]:  # only actions without resource-level permissions
            assert _actions_of(statement) in (["ecr:GetAuthorizationToken"], ["sagemaker:ListModelPackages"])
    # The model registry, read by the Evaluate step for the currently approved model: exactly these two
    # actions, nothing that writes (CreateModelPackage / UpdateModelPackage stay with the state machine).
    sagemaker = sorted(a for s in statements for a in _actions_of(s) if a.startswith("sagemaker:"))
    assert sagemaker == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
    assert _resources_of(by_sid["ListModelPackages"]) == ["*"]
    describe = by_sid["DescribeModelPackages"]
    assert _actions_of(describe) == ["sagemaker:DescribeModelPackage"]
    (versions,) = _resources_of(describe)
    assert json.loads(versions) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":model-package/{PREFIX}-twin/*",
            ],
        ]
    }
    # ... and its model data (models/<dpo job>/output/model/merged/): object read and a prefix listing.
    assert any(r.endswith('/models/*"]]}') for r in _resources_of(by_sid["ArtifactsReadWrite"]))
    (listing,) = [s for s in statements if _actions_of(s) == ["s3:ListBucket"]]
    assert "models/*" in listing["Condition"]["StringLike"]["s3:prefix"]
    rw = by_sid["ArtifactsReadWrite"]
    assert sorted(_actions_of(rw)) == ["s3:GetObject", "s3:PutObject"]
    prefixes = sorted(re.search(r'/(\w+)/\*"', r).group(1) for r in _resources_of(rw))  # type: ignore[union-attr]
    assert prefixes == ["checkpoints", "datasets", "evaluations", "models"]
    assert all(f"{PREFIX}-artifacts-" in r for r in _resources_of(rw))
    assert _actions_of(by_sid["LaunchedCodeRead"]) == ["s3:GetObject"]
    code = _resources_of(by_sid["WorkflowCodeRead"])
    assert len(code) == 1 and "cdk-hnb659fds-assets" in code[0] and "*" not in code[0]
    pulls = _resources_of(by_sid["PullImages"])
    assert sorted(r.rsplit("repository/", 1)[1].split('"')[0] for r in pulls) == [
        "huggingface-pytorch-training",
        "pytorch-training",
    ]
    bedrock = by_sid["BedrockModels"]
    assert _actions_of(bedrock) == ["bedrock:InvokeModel"]
    assert [r.rsplit("foundation-model/", 1)[1].split('"')[0] for r in _resources_of(bedrock)] == [
        "anthropic.claude-3-haiku-20240307-v1:0"
    ]
    logs = _resources_of(by_sid["JobLogs"])
    assert len(logs) == 2 and all("log-group:/aws/sagemaker/" in r for r in logs)
    assert "HuggingFaceToken" not in by_sid  # the default base model is ungated: no secret to read
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions_of(s))]
    (read,) = dynamo
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & set(_actions_of(read))


def test_state_machine_role_is_least_privilege(built: Built) -> None:
    statements = built.statements(built.workflow.state_machine.role)
    by_sid = {s.get("Sid"): s for s in statements}
    for statement in statements:
        actions = _actions_of(statement)
        assert not any(a in ("sagemaker:*", "*", "iam:*", "s3:*") for a in actions)
        if any(a.startswith(("sagemaker:", "iam:", "s3:", "sns:", "events:")) for a in actions):
            assert "*" not in _resources_of(statement), statement
    for sid, kind, steps in (
        ("TrainingJobs", "training-job", ("sft", "dpo")),
        ("ProcessingJobs", "processing-job", ("data", "eval")),
    ):
        resources = _resources_of(by_sid[sid])
        assert sorted(r.split(f":{kind}/", 1)[1].split('"')[0] for r in resources) == sorted(
            f"{PREFIX}-{step}-*" for step in steps
        )
        verb = "Training" if kind == "training-job" else "Processing"
        assert {
            f"sagemaker:Create{verb}Job",
            f"sagemaker:Describe{verb}Job",
            f"sagemaker:Stop{verb}Job",
        } <= set(_actions_of(by_sid[sid]))
    pass_role = by_sid["PassExecutionRoleToSageMaker"]
    assert _actions_of(pass_role) == ["iam:PassRole"]
    assert pass_role["Resource"] == {"Fn::GetAtt": [built.logical_id(built.workflow.role), "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert [s for s in statements if "iam:PassRole" in _actions_of(s)] == [pass_role]
    rules = _resources_of(by_sid["SyncIntegrationRules"])
    assert sorted(r.split("rule/", 1)[1].split('"')[0] for r in rules) == [
        "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    ]
    package = _resources_of(by_sid["RegisterModelPackage"])
    assert any(f"model-package/{PREFIX}-twin/*" in r for r in package)
    assert _actions_of(by_sid["Notify"]) == ["sns:Publish"]
    assert sorted(_actions_of(by_sid["NotifyEncryptedTopic"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    reads = _resources_of(by_sid["ReadRunResults"])
    assert sum(r.endswith('/LATEST"]]}') for r in reads) == 2


def test_state_machine_logs_and_traces(built: Built, state_machine: dict[str, Any]) -> None:
    props = state_machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    group = built.template["Resources"][built.logical_id(built.workflow.log_group)]["Properties"]  # type: ignore[index]
    assert "KmsKeyId" in group and group["RetentionInDays"] == 30
    assert json.dumps(group["LogGroupName"]).startswith(
        '{"Fn::Join": ["", ["/aws/vendedlogs/states/llm-twin-dev-training-'
    )


# --- schedule -----------------------------------------------------------------------------------------


def test_schedule_is_deployed_disabled_by_default(built: Built) -> None:
    schedule = built.only("AWS::Scheduler::Schedule")["Properties"]
    assert schedule["State"] == "DISABLED"
    assert schedule["ScheduleExpression"] == "cron(0 4 ? * SUN *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": built.logical_id(built.workflow.state_machine)}
    assert json.loads(target["Input"]) == {}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [built.logical_id(built.workflow.schedule.dead_letter_queue), "Arn"]}
    }
    role = built.template["Resources"][built.logical_id(built.workflow.schedule.role)]["Properties"]  # type: ignore[index]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}
    actions = sorted(a for s in built.statements(built.workflow.schedule.role) for a in _actions_of(s))
    assert actions == ["sqs:SendMessage", "states:StartExecution"]


def test_schedule_can_be_enabled_from_config() -> None:
    from aws_cdk.assertions import Template

    training = TrainingConfig(
        schedule=TrainingScheduleConfig(
            enabled=True, expression="cron(0 2 1 * ? *)", time_zone="Europe/Berlin"
        )
    )
    built = build(training=training)
    schedule = Template.from_stack(built.stack).find_resources("AWS::Scheduler::Schedule")
    (props,) = [r["Properties"] for r in schedule.values()]
    assert props["State"] == "ENABLED"
    assert props["ScheduleExpression"] == "cron(0 2 1 * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Berlin"


# --- images -------------------------------------------------------------------------------------------


def test_images_come_from_the_region_mapping_when_the_stack_is_region_agnostic(built: Built) -> None:
    from training.sagemaker import images

    props = built.only("AWS::StepFunctions::StateMachine")["Properties"]["DefinitionSubstitutions"]
    rendered = json.dumps(props["TrainingImageUri"])
    assert "Fn::FindInMap" in rendered and images.TRAINING_TAG in rendered
    mapping = next(iter(built.template["Mappings"].values()))  # type: ignore[index]
    assert {region: row["account"] for region, row in mapping.items()} == dict(images.DLC_ACCOUNTS)


def test_images_are_literal_for_a_pinned_region() -> None:
    from training.sagemaker import images

    workflow = build(region="eu-west-1").workflow
    assert workflow.training_image_uri == images.training_image_uri("eu-west-1")
    assert workflow.processing_image_uri == images.processing_image_uri("eu-west-1")
    assert workflow.inference_image_uri.startswith(
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:"
    )


# --- cdk-nag, cfn-lint ----------------------------------------------------------------------------------


_ACCOUNT = "<AWS::Region>:<AWS::AccountId>"
_BUCKET = f"arn:<AWS::Partition>:s3:::{PREFIX}-artifacts-<AWS::AccountId>-<AWS::Region>"
_LOGS = f"arn:<AWS::Partition>:logs:{_ACCOUNT}:log-group:/aws/sagemaker"
_SAGEMAKER = f"arn:<AWS::Partition>:sagemaker:{_ACCOUNT}"
_JOBS = (
    ("training-job", "sft"),
    ("training-job", "dpo"),
    ("processing-job", "data"),
    ("processing-job", "eval"),
)
EXPECTED_ACKNOWLEDGMENTS = {
    "AwsSolutions-IAM5[Resource::*]": {"SageMakerRole", "StateMachine/Role"},
    **{
        f"AwsSolutions-IAM5[Resource::{_BUCKET}/{p}/*]": {"SageMakerRole"}
        for p in ("datasets", "models", "checkpoints", "code")
    },
    f"AwsSolutions-IAM5[Resource::{_BUCKET}/evaluations/*]": {"SageMakerRole", "StateMachine/Role"},
    **{
        f"AwsSolutions-IAM5[Resource::{_LOGS}/{g}:*]": {"SageMakerRole"}
        for g in ("TrainingJobs", "ProcessingJobs")
    },
    **{
        f"AwsSolutions-IAM5[Resource::{_SAGEMAKER}:{kind}/{PREFIX}-{step}-*]": {"StateMachine/Role"}
        for kind, step in _JOBS
    },
    f"AwsSolutions-IAM5[Resource::{_SAGEMAKER}:model-package/{PREFIX}-twin/*]": {
        "StateMachine/Role",  # CreateModelPackage
        "SageMakerRole",  # DescribeModelPackage (the evaluation's current model)
    },
    "AwsSolutions-SQS3": {"Schedule/DeadLetterQueue"},
}


def test_cdk_nag_is_clean(built: Built) -> None:
    assert built.outdir is not None
    report = json.loads((built.outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report


def test_acknowledgments_are_the_expected_ones_with_reasons(built: Built) -> None:
    from aws_cdk import CfnResource

    from infra.nag import MIN_REASON_LENGTH

    paths = {}
    for construct in built.app.node.find_all():
        if isinstance(construct, CfnResource):
            paths[built.stack.resolve(construct.logical_id)] = construct.node.path
    found: dict[str, set[str]] = {}
    for logical_id, resource in built.template["Resources"].items():  # type: ignore[index]
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert len(rule["reason"]) >= MIN_REASON_LENGTH
            found.setdefault(rule["id"], set()).add(paths[logical_id])
    assert set(found) == set(EXPECTED_ACKNOWLEDGMENTS)
    for rule, suffixes in EXPECTED_ACKNOWLEDGMENTS.items():
        for path in found[rule]:
            assert any(path.split("/TrainingWorkflow/", 1)[1].startswith(s) for s in suffixes), (rule, path)


def test_cfn_lint_reports_no_errors(built: Built) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed (pip install -e .[dev])")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(built.template_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr
    assert all(":W" in line or ":I" in line for line in findings), findings


# --- configuration ------------------------------------------------------------------------------------


def _get(values: dict[str, Any]) -> Any:
    return lambda key: values.get(key)


def test_default_config() -> None:
    cfg = parse_training_config(_get({}))
    assert cfg == TrainingConfig()
    assert cfg.schedule.enabled is False
    assert cfg.effective_max_wait_minutes == 2 * cfg.training.max_runtime_minutes
    assert cfg.effective_judge_model_id == cfg.dataset_model_id
    assert cfg.hf_token_secret_name == "" and cfg.base_model_id == "Qwen/Qwen2.5-7B-Instruct"


def test_config_overrides() -> None:
    cfg = parse_training_config(
        _get(
            {
                "baseModelId": "mistralai/Mistral-7B-Instruct-v0.3",
                "hfTokenSecretName": "none",
                "datasetModelId": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                "trainingInstanceType": "ml.g6e.2xlarge",
                "trainingVolumeGb": "200",
                "trainingMaxRuntimeMinutes": "120",
                "trainingMaxWaitMinutes": "240",
                "sftHyperparameters": '{"learning_rate": 1e-4, "lora_r": 8}',
                "trainingSchedule": "cron(0 1 ? * MON *)",
                "modelPackageGroupName": "twin-models",
            }
        )
    )
    assert cfg.base_model_id == "mistralai/Mistral-7B-Instruct-v0.3"
    assert cfg.hf_token_secret_name == ""
    assert cfg.training.instance_type == "ml.g6e.2xlarge" and cfg.training.volume_gb == 200
    assert cfg.effective_max_wait_minutes == 240
    assert cfg.sft_hyperparameters["learning_rate"] == 1e-4 and cfg.sft_hyperparameters["lora_r"] == 8
    assert cfg.sft_hyperparameters["quantization"] == "qlora-4bit"  # defaults kept
    assert cfg.schedule.enabled is True and cfg.schedule.expression == "cron(0 1 ? * MON *)"
    assert cfg.group_name("llm-twin-dev") == "twin-models"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"trainingInstanceType": "g5.2xlarge"}, "trainingInstanceType"),
        ({"trainingSpot": "false", "trainingMaxWaitMinutes": "600"}, "only with trainingSpot"),
        ({"trainingMaxRuntimeMinutes": "600", "trainingMaxWaitMinutes": "300"}, "trainingMaxWaitMinutes"),
        ({"sftHyperparameters": "[1, 2]"}, "sftHyperparameters"),
        ({"dpoHyperparameters": '{"base_model": "x/y"}'}, "base_model"),
        ({"baseModelId": "llama"}, "baseModelId"),
        ({"trainingSchedule": '{"enabled": true, "expression": "daily"}'}, "trainingSchedule.expression"),
        ({"trainingRetryAttempts": "0"}, "trainingRetryAttempts"),
    ],
)
def test_invalid_config_is_rejected(values: dict[str, Any], message: str) -> None:
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_training_config(_get(values))


def test_hyperparameters_are_validated_at_synth() -> None:
    from infra.config import ConfigError
    from infra.constructs.training_workflow import render_hyperparameters

    bad = TrainingConfig(sft_hyperparameters={**TrainingConfig().sft_hyperparameters, "learnig_rate": 1e-4})
    with pytest.raises(ConfigError, match="learnig_rate"):
        render_hyperparameters("sft", bad)


def test_job_names_must_fit_for_long_environment_names() -> None:
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match="envName"):
        build(env_name="a-very-long-env1")


def test_run_time_budget_must_fit_the_workflow_timeout() -> None:
    from infra.config import ConfigError

    training = TrainingConfig(training=replace(TrainingConfig().training, max_runtime_minutes=3 * 24 * 60))
    with pytest.raises(ConfigError, match="timeout"):
        build(training=training)


def test_inference_profile_models_get_profile_and_foundation_model_arns() -> None:
    from aws_cdk import Stack

    from infra.constructs.training_workflow import bedrock_model_arns

    stack = Stack()
    arns = [stack.resolve(a) for a in bedrock_model_arns("us.anthropic.claude-3-5-haiku-20241022-v1:0")]
    rendered = json.dumps(arns)
    assert "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0" in rendered
    assert ":bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in rendered


def test_a_gated_base_model_reads_its_token_secret_only(tmp_path: Path) -> None:
    training = replace(
        TrainingConfig(), base_model_id="meta-llama/Llama-3.1-8B-Instruct", hf_token_secret_name="llm-twin/hf"
    )
    gated = build(tmp_path, training=training)
    by_sid = {s.get("Sid"): s for s in gated.statements(gated.workflow.role)}
    secret = by_sid["HuggingFaceToken"]
    assert _actions_of(secret) == ["secretsmanager:GetSecretValue"]
    assert _resources_of(secret)[0].endswith(':secret:llm-twin/hf-??????"]]}')
