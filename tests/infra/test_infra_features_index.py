"""The vector index: a managed OpenSearch domain, its logs, and an IAM-only access policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

DATA = "LlmTwinDataStack"
ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
DOMAIN_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":es:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":domain/llm-twin-dev",
        ],
    ]
}
RW_ACTIONS = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def with_suffix(arn: dict[str, Any], suffix: str) -> dict[str, Any]:
    parts = arn["Fn::Join"][1]
    return {"Fn::Join": ["", [*parts[:-1], parts[-1] + suffix]]}


@pytest.fixture(scope="module")
def domain(synth: Any) -> dict[str, Any]:
    return synth.only(DATA, "AWS::OpenSearchService::Domain")


def test_domain_is_a_small_encrypted_https_only_domain(domain: dict[str, Any]) -> None:
    props = domain["Properties"]
    assert props["DomainName"] == "llm-twin-dev"
    assert props["EngineVersion"] == "OpenSearch_2.19"
    assert props["ClusterConfig"] == {
        "DedicatedMasterEnabled": False,
        "InstanceCount": 1,
        "InstanceType": "t3.small.search",
        "MultiAZWithStandbyEnabled": False,
        "ZoneAwarenessEnabled": False,
    }
    assert props["EBSOptions"] == {"EBSEnabled": True, "VolumeSize": 10, "VolumeType": "gp3"}
    assert props["EncryptionAtRestOptions"] == {"Enabled": True}
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["DomainEndpointOptions"] == {
        "EnforceHTTPS": True,
        "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10",
    }
    assert props["SoftwareUpdateOptions"] == {"AutoSoftwareUpdateEnabled": True}
    assert props["OffPeakWindowOptions"]["Enabled"] is True
    # IAM only: no fine-grained access control (master user), no VPC, no Cognito.
    assert not {"AdvancedSecurityOptions", "VPCOptions", "CognitoOptions"} & set(props)
    assert (domain["DeletionPolicy"], domain["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert domain["UpdatePolicy"] == {"EnableVersionUpgrade": True}  # a named domain upgrades in place


def test_access_policy_allows_exactly_the_indexer_role(synth: Any, domain: dict[str, Any]) -> None:
    policy = domain["Properties"]["AccessPolicies"]
    # ReadWrite: the indexer; Read + Search: the API function (test_infra_api_iam.py).
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadWrite", "Read", "Search"]
    statement = policy["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert "*" not in json.dumps(statement["Principal"])  # never anonymous
    assert statement["Principal"] == {"AWS": ROOT}  # the account, narrowed by the condition below
    assert statement["Action"] == RW_ACTIONS
    assert statement["Resource"] == [with_suffix(DOMAIN_ARN, "/*")]
    (principals,) = statement["Condition"]["ArnEquals"].values()
    assert list(statement["Condition"]["ArnEquals"]) == ["aws:PrincipalArn"]
    role_name = synth.templates["LlmTwinFeaturesStack"]["Resources"][
        synth.logical_id(synth.stacks.features.indexer.role)
    ]["Properties"]["RoleName"]
    assert role_name == {"Fn::Join": ["", ["llm-twin-dev-feature-indexer-", {"Ref": "AWS::Region"}]]}
    expected_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iam::",
                {"Ref": "AWS::AccountId"},
                ":role/llm-twin-dev-feature-indexer-",
                {"Ref": "AWS::Region"},
            ],
        ]
    }
    assert principals == [expected_arn]


def test_no_custom_resources_or_functions_in_the_data_stack(data_template: dict[str, Any]) -> None:
    # The Domain L2 would apply access policies and log permissions through Lambda custom resources.
    types = {r["Type"] for r in data_template["Resources"].values()}
    assert not {t for t in types if t.startswith("Custom::") or t.startswith("AWS::Lambda::")}
    assert "AWS::CloudFormation::CustomResource" not in types


def test_slow_and_application_logs_go_to_encrypted_log_groups(synth: Any, domain: dict[str, Any]) -> None:
    resources = synth.templates[DATA]["Resources"]
    index = synth.stacks.data.vector_index
    key_id = synth.logical_id(synth.stacks.data.log_encryption.key)
    options = domain["Properties"]["LogPublishingOptions"]
    assert set(options) == {"SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "ES_APPLICATION_LOGS"}
    group_ids = set()
    for option in options.values():
        assert option["Enabled"] is True
        group_id = option["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
        group = resources[group_id]
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert group["Properties"]["RetentionInDays"] == 30
        assert group["DeletionPolicy"] == "Retain"
        group_ids.add(group_id)
    assert group_ids == {synth.logical_id(g) for g in index.log_groups.values()}

    (policy_id, policy) = next(iter(synth.resources(DATA, "AWS::Logs::ResourcePolicy").items()))
    assert policy_id in domain["DependsOn"]  # OpenSearch checks its log permissions at creation
    assert policy["Properties"]["PolicyName"] == "llm-twin-dev-opensearch-logs"
    document = json.loads(_render_join(policy["Properties"]["PolicyDocument"]))
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert sorted(statement["Resource"]) == sorted(f"<{g}.Arn>" for g in group_ids)
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "<AWS::AccountId>"},
        "ArnLike": {
            "aws:SourceArn": "arn:<AWS::Partition>:es:<AWS::Region>:<AWS::AccountId>:domain/llm-twin-dev"
        },
    }


def _render_join(value: Any) -> str:
    """A Fn::Join of strings, Refs and GetAtts as text (``<Logical.Attr>``, ``<AWS::Region>``)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(_render_join(item) for item in items)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(value)


def test_data_stack_outputs_the_domain(data_template: dict[str, Any], synth: Any) -> None:
    outputs = data_template["Outputs"]
    domain_id = synth.logical_id(synth.stacks.data.vector_index.domain)
    assert outputs["VectorDomainEndpoint"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}]]
    }
    assert outputs["VectorDomainName"]["Value"] == {"Ref": domain_id}
    assert outputs["VectorDomainArn"]["Value"] == {"Fn::GetAtt": [domain_id, "Arn"]}
    assert outputs["VectorIndexName"]["Value"] == "llm-twin-chunks"


def _grant_app(tmp_path: Path) -> tuple[Any, Any]:
    """A data stack with the index, a reader role beside it and a reader role in another stack."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from infra.config import InfraConfig
    from infra.constructs.vector_index import VectorIndex, pin_role_name

    app = App(outdir=str(tmp_path))
    data, api = Stack(app, "Data"), Stack(app, "Api")
    index = VectorIndex(data, "VectorIndex", config=InfraConfig(), log_key=kms.Key(data, "Key"))

    def role(stack: Stack, name: str) -> iam.Role:
        return iam.Role(stack, name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    index.grant_read(role(data, "Local"))
    rag = role(api, "Rag")
    pin_role_name(rag, "llm-twin-dev-rag")
    index.grant_read(rag)
    with pytest.raises(ValueError, match="fixed name"):
        index.grant_read(role(api, "Unnamed"))
    return app, index


def test_grant_read_limits_post_to_the_query_apis(tmp_path: Path) -> None:
    from aws_cdk.assertions import Template

    app, _index = _grant_app(tmp_path)
    data, api = (Template.from_stack(app.node.find_child(name)) for name in ("Data", "Api"))
    domain = next(iter(data.find_resources("AWS::OpenSearchService::Domain").values()))
    statements = {s["Sid"]: s for s in domain["Properties"]["AccessPolicies"]["Statement"]}
    assert set(statements) == {"Read", "Search"}  # nobody writes
    assert statements["Read"]["Action"] == ["es:ESHttpGet", "es:ESHttpHead"]
    assert statements["Search"]["Action"] == ["es:ESHttpPost"]
    search = [_render_join(r) for r in statements["Search"]["Resource"]]
    domain_arn = "arn:<AWS::Partition>:es:<AWS::Region>:<AWS::AccountId>:domain/llm-twin-dev"
    assert search == [
        f"{domain_arn}/llm-twin-chunks*/{api}" for api in ("_search", "_msearch", "_count", "_mget")
    ]
    principals = [_render_join(p) for p in statements["Read"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    assert len(principals) == 2
    assert principals[1] == "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/llm-twin-dev-rag"
    assert principals[0].startswith("<Local") and principals[0].endswith(".Arn>")  # same stack: GetAtt
    # The other stack's identity policy: the same paths, written with its own pseudo parameters.
    (policy,) = api.find_resources("AWS::IAM::Policy").values()
    api_statements = policy["Properties"]["PolicyDocument"]["Statement"]
    posts = [s for s in api_statements if s["Action"] == "es:ESHttpPost"]
    assert [_render_join(r) for r in as_list(posts[0]["Resource"])] == search
    assert "Fn::ImportValue" not in json.dumps(api.to_json())  # no reference to the data stack


def test_an_index_nobody_may_use_fails_synth(tmp_path: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_kms as kms

    from infra.config import InfraConfig
    from infra.constructs.vector_index import VectorIndex

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Data")
    VectorIndex(stack, "VectorIndex", config=InfraConfig(), log_key=kms.Key(stack, "Key"))
    with pytest.raises(RuntimeError, match="no role was granted access"):
        app.synth()
