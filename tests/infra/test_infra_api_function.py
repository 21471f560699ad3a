"""The API function: configuration, environment (Settings fields), and exactly its IAM grants."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinApiStack"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


PARTITION, REGION, ACCOUNT = ({"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"})
MODEL_ARN = join("arn:", PARTITION, ":bedrock:", REGION, "::foundation-model/amazon.titan-embed-text-v2:0")
ENDPOINT_ARN = join("arn:", PARTITION, ":sagemaker:", REGION, ":", ACCOUNT, ":endpoint/llm-twin-dev-lmi")
STATES = ("arn:", PARTITION, ":states:", REGION, ":", ACCOUNT)
TRAINING_ARN = join(*STATES, ":stateMachine:llm-twin-dev-training")  # named: no import of the later stack
TRAINING_EXECUTIONS = join(*STATES, ":execution:llm-twin-dev-training:*")
COLLECTION_EXECUTIONS = join(*STATES, ":execution:llm-twin-dev-collection:*")


@pytest.fixture(scope="module")
def function(synth: Any) -> dict[str, Any]:
    return synth.templates[STACK]["Resources"][synth.logical_id(synth.stacks.api.api.handler.function)]


@pytest.fixture(scope="module")
def statements(synth: Any) -> dict[tuple[str, ...], Any]:
    """sorted actions -> Resource of every statement of the API role."""
    found = synth.policy_statements(STACK, synth.logical_id(synth.stacks.api.api.role))
    assert all(s["Effect"] == "Allow" for s in found)
    by_actions = {tuple(sorted(as_list(s["Action"]))): s["Resource"] for s in found}
    assert len(by_actions) == len(found)
    return by_actions


def test_function_configuration(synth: Any, function: dict[str, Any]) -> None:
    handler = synth.stacks.api.api.handler
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == (
        "python3.12",
        ["arm64"],
        "handler.handler",
    )
    assert (props["MemorySize"], props["Timeout"]) == (1024, 60)
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": synth.logical_id(handler.log_group)}}
    assert "ReservedConcurrentExecutions" not in props
    functions = synth.resources(STACK, "AWS::Lambda::Function").values()
    # the API function and the web page's BucketDeployment (a CDK custom resource provider)
    assert sorted(f["Properties"]["Handler"] for f in functions) == ["handler.handler", "index.handler"]


def test_function_code_is_the_api_folder(synth: Any, function: dict[str, Any]) -> None:
    from infra.paths import lambda_dir

    staged = synth.outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    assert (staged / "handler.py").read_bytes() == (lambda_dir("api") / "handler.py").read_bytes()


def test_environment(function: dict[str, Any]) -> None:
    env = function["Properties"]["Environment"]["Variables"]
    assert {k: v for k, v in env.items() if isinstance(v, str)} == {
        "POWERTOOLS_SERVICE_NAME": "api",
        "POWERTOOLS_METRICS_NAMESPACE": "LlmTwin",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LLM_TWIN_VECTOR_INDEX": "opensearch",
        "LLM_TWIN_INDEX_NAME": "llm-twin-chunks",
        "LLM_TWIN_EMBEDDER": "bedrock",
        "LLM_TWIN_BEDROCK_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
        "LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS": "1024",
        "LLM_TWIN_LLM": "lmi-sagemaker",
        "LLM_TWIN_LMI_ENDPOINT_NAME": "llm-twin-dev-lmi",
        "LLM_TWIN_LMI_TIMEOUT_S": "25",  # ends before the 29 s integration timeout
        "LLM_TWIN_TRACES_RETENTION_DAYS": "30",
    }
    imports = {
        k: v["Fn::ImportValue"] for k, v in env.items() if isinstance(v, dict) and "Fn::ImportValue" in v
    }
    assert "WarehouseTable" in imports["LLM_TWIN_TABLE_NAME"]
    assert "PromptTracesTable" in imports["LLM_TWIN_TRACES_TABLE_NAME"]
    assert imports["LLM_TWIN_COLLECTION_STATE_MACHINE_ARN"].startswith("llm-twin-dev-collection:")
    assert env["LLM_TWIN_TRAINING_STATE_MACHINE_ARN"] == TRAINING_ARN
    assert env["LLM_TWIN_OPENSEARCH_ENDPOINT"]["Fn::Join"][1][0] == "https://"
    origin = env["LLM_TWIN_WEB_ORIGIN"]["Fn::Join"][1]  # the web page's CloudFront origin (no webOrigin set)
    assert origin[0] == "https://" and origin[1]["Fn::GetAtt"][1] == "DomainName"


def test_embedder_matches_the_feature_indexer(synth: Any, function: dict[str, Any]) -> None:
    indexer = synth.stacks.features.indexer.indexer.function
    indexer_env = synth.templates["LlmTwinFeaturesStack"]["Resources"][synth.logical_id(indexer)]
    env = function["Properties"]["Environment"]["Variables"]
    for name in (
        "LLM_TWIN_EMBEDDER",
        "LLM_TWIN_BEDROCK_EMBEDDING_MODEL_ID",
        "LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS",
        "LLM_TWIN_INDEX_NAME",
    ):
        assert env[name] == indexer_env["Properties"]["Environment"]["Variables"][name]


def test_environment_is_what_the_settings_read(
    function: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_twin.api.config import ApiSettings
    from llm_twin.settings import Settings

    env = function["Properties"]["Environment"]["Variables"]
    names = {n for n in env if n.startswith("LLM_TWIN_")}
    fields = {*Settings.model_fields, *ApiSettings.model_fields}  # web_origin is the API's own setting
    assert names <= {f"LLM_TWIN_{name.upper()}" for name in fields}, names
    for name in names:
        value = env[name]
        monkeypatch.setenv(name, value if isinstance(value, str) else "resolved-by-cloudformation")
    settings = Settings()
    assert (settings.llm, settings.lmi_endpoint_name, settings.vector_index) == (
        "lmi-sagemaker",
        "llm-twin-dev-lmi",
        "opensearch",
    )
    assert settings.traces_retention_days == 30
    assert ApiSettings().web_origin == "resolved-by-cloudformation"  # the page's origin: CORS on


def test_role_has_exactly_these_grants(synth: Any, statements: dict[tuple[str, ...], Any]) -> None:
    from infra.constructs.traces import WRITE_ACTIONS
    from infra.constructs.warehouse import READ_ACTIONS
    from infra.constructs.warehouse import WRITE_ACTIONS as WAREHOUSE_WRITE

    search = ("es:ESHttpPost",)
    assert set(statements) == {
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        tuple(sorted((*READ_ACTIONS, *WAREHOUSE_WRITE))),
        ("states:StartExecution",),
        ("states:DescribeExecution",),
        ("es:ESHttpGet", "es:ESHttpHead"),
        search,
        tuple(sorted(WRITE_ACTIONS)),
        ("bedrock:InvokeModel",),
        ("sagemaker:InvokeEndpoint",),
    }
    assert statements[("bedrock:InvokeModel",)] == MODEL_ARN
    assert statements[("sagemaker:InvokeEndpoint",)] == ENDPOINT_ARN
    collection, training = statements[("states:StartExecution",)]
    assert collection["Fn::ImportValue"].startswith("llm-twin-dev-collection:")
    assert "StateMachine" in collection["Fn::ImportValue"]
    assert training == TRAINING_ARN
    traces = statements[tuple(sorted(WRITE_ACTIONS))]
    assert "PromptTracesTable" in traces["Fn::ImportValue"]  # exactly the table, no index
    assert sorted(str(r["Fn::Join"][1][-1]) for r in statements[search]) == [
        f":domain/llm-twin-dev/llm-twin-chunks*/{api}" for api in ("_count", "_mget", "_msearch", "_search")
    ]
    assert statements[("es:ESHttpGet", "es:ESHttpHead")]["Fn::Join"][1][-1] == ":domain/llm-twin-dev/*"
    warehouse = as_list(statements[tuple(sorted((*READ_ACTIONS, *WAREHOUSE_WRITE)))])
    assert len(warehouse) == 1 + len(synth.stacks.data.warehouse.index_names)
    assert all("*" not in str(r) for r in warehouse)


def test_role_name_is_pinned_and_the_domain_lets_it_search(synth: Any) -> None:
    role = synth.templates[STACK]["Resources"][synth.logical_id(synth.stacks.api.api.role)]["Properties"]
    assert role["RoleName"] == join("llm-twin-dev-api-", REGION)
    assert "ManagedPolicyArns" not in role
    domain = synth.templates["LlmTwinDataStack"]["Resources"][
        synth.logical_id(synth.stacks.data.vector_index.domain)
    ]
    by_sid = {s["Sid"]: s for s in domain["Properties"]["AccessPolicies"]["Statement"]}
    role_arn = join("arn:", PARTITION, ":iam::", ACCOUNT, ":role/llm-twin-dev-api-", REGION)
    for sid in ("Read", "Search"):
        assert by_sid[sid]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [role_arn]}}
    assert by_sid["Search"]["Action"] == ["es:ESHttpPost"]  # never a writer
    assert role_arn not in by_sid["ReadWrite"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def test_api_gateway_may_invoke_the_function_from_this_api_only(synth: Any) -> None:
    permissions = [p["Properties"] for p in synth.resources(STACK, "AWS::Lambda::Permission").values()]
    assert permissions
    api_id = {"Ref": synth.logical_id(synth.stacks.api.api.rest_api)}
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["Action"] == "lambda:InvokeFunction"
        assert api_id in permission["SourceArn"]["Fn::Join"][1]


def test_training_workflow_grants_are_that_machine_only(
    synth: Any, statements: dict[tuple[str, ...], Any]
) -> None:
    """POST /training starts exactly the training machine; GET /training/{id} and GET /collections/{id}
    describe the executions of those two machines only (no other machine, no other states action)."""
    states = {
        actions: resource for actions, resource in statements.items() if actions[0].startswith("states:")
    }
    assert set(states) == {("states:StartExecution",), ("states:DescribeExecution",)}
    assert TRAINING_ARN in as_list(states[("states:StartExecution",)])
    described = as_list(states[("states:DescribeExecution",)])
    assert sorted(map(str, described)) == sorted(map(str, [TRAINING_EXECUTIONS, COLLECTION_EXECUTIONS]))
    assert synth.stacks.api.api.training_state_machine_arn  # the ARN the environment and grant use


def test_the_named_training_machine_is_the_training_stacks(synth: Any) -> None:
    """The API names the training machine (the training stack is built after the API stack): the
    training stack must create it under that name."""
    machine = synth.templates["LlmTwinTrainingStack"]["Resources"][
        synth.logical_id(synth.stacks.training.workflow.state_machine)
    ]
    name = machine["Properties"]["StateMachineName"]
    assert name == synth.stacks.config.training_state_machine_name == "llm-twin-dev-training"
