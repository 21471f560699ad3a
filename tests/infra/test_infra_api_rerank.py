"""The reranker context keys (``reranker``, ``rerankModel``): parsing, the region check, and what they
change in the API stack: the RAG variables and, for ``bedrock`` only, a least-privilege rerank policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import RERANK_MODEL_REGIONS, ConfigError, config_from_values
from tests.infra.conftest import as_list
from tests.infra.test_infra_iam import RESOURCE_STAR_ACTIONS

pytestmark = pytest.mark.infra

STACK = "LlmTwinApiStack"
PARTITION, REGION = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}
RERANK_MODEL_ARN = {
    "Fn::Join": ["", ["arn:", PARTITION, ":bedrock:", REGION, "::foundation-model/amazon.rerank-v1:0"]]
}


def config(**values: Any) -> Any:
    return config_from_values(values.get)


def test_defaults_and_values() -> None:
    api = config().api
    assert (api.reranker, api.rerank_model) == ("local", "amazon.rerank-v1:0")
    api = config(reranker=" Bedrock ", rerankModel="cohere.rerank-v3-5:0").api
    assert (api.reranker, api.rerank_model) == ("bedrock", "cohere.rerank-v3-5:0")
    assert config(reranker="none").api.reranker == "none"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reranker": "cohere"}, "reranker: one of"),
        ({"rerankModel": "amazon.titan-embed-text-v2:0"}, "rerankModel"),
        # Amazon Rerank 1.0 is not offered in us-east-1 (Cohere Rerank 3.5 is)
        ({"reranker": "bedrock", "region": "us-east-1"}, "amazon.rerank-v1:0 is offered in"),
        ({"reranker": "bedrock", "rerankModel": "cohere.rerank-v3-5:0", "region": "eu-west-1"}, "eu-west-1"),
    ],
)
def test_invalid_values_name_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**values)


def test_region_check_only_for_bedrock_and_pinned_regions() -> None:
    for model, regions in RERANK_MODEL_REGIONS.items():
        for region in regions:
            assert config(reranker="bedrock", rerankModel=model, region=region).api.reranker == "bedrock"
    assert config(reranker="bedrock", rerankModel="cohere.rerank-v3-5:0", region="us-east-1")
    assert config(reranker="bedrock").api.reranker == "bedrock"  # environment-agnostic: no check
    assert config(reranker="local", region="us-east-1").api.reranker == "local"


@pytest.fixture(scope="module")
def bedrock(synthesizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An app with ``-c reranker=bedrock``, cdk-nag on (a finding fails the fixture)."""
    return synthesizer(tmp_path_factory.mktemp("cdk-out-rerank"), {"reranker": "bedrock"})


def environment(result: Any) -> dict[str, Any]:
    function = result.stacks.api.api.handler.function
    return result.templates[STACK]["Resources"][result.logical_id(function)]["Properties"]["Environment"][
        "Variables"
    ]


def role_statements(result: Any) -> list[dict[str, Any]]:
    return result.policy_statements(STACK, result.logical_id(result.stacks.api.api.role))


def test_bedrock_sets_the_rag_settings(bedrock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_twin.rag.settings import RagSettings

    env = environment(bedrock)
    rag = {name: value for name, value in env.items() if name.startswith("LLM_TWIN_RAG_")}
    assert rag == {"LLM_TWIN_RAG_RERANKER": "bedrock", "LLM_TWIN_RAG_RERANK_MODEL_ID": "amazon.rerank-v1:0"}
    for name, value in rag.items():
        monkeypatch.setenv(name, value)
    assert (RagSettings().reranker, RagSettings().rerank_model_id) == ("bedrock", "amazon.rerank-v1:0")


def test_bedrock_grants_exactly_rerank_and_the_model(bedrock: Any, synth: Any) -> None:
    api = bedrock.stacks.api.api
    policy = bedrock.templates[STACK]["Resources"][bedrock.logical_id(api.rerank_policy)]["Properties"]
    assert policy["Roles"] == [{"Ref": bedrock.logical_id(api.role)}]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Sid": "BedrockRerank", "Effect": "Allow", "Action": "bedrock:Rerank", "Resource": "*"},
        {
            "Sid": "BedrockRerankModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": RERANK_MODEL_ARN,
        },
    ]
    # everything else the role may do is what it may do without the Bedrock reranker
    assert role_statements(bedrock) == role_statements(synth) + policy["PolicyDocument"]["Statement"]
    for where, statement in bedrock.all_iam_statements():  # test_infra_iam's rule, plus bedrock:Rerank
        if "*" in as_list(statement["Resource"]):
            actions = set(as_list(statement["Action"]))
            assert actions <= RESOURCE_STAR_ACTIONS | {"bedrock:Rerank"}, where


def test_local_default_has_no_rerank_grant_or_variable(synth: Any) -> None:
    assert synth.stacks.api.api.rerank_policy is None
    assert not [name for name in environment(synth) if name.startswith("LLM_TWIN_RAG_")]
    assert "bedrock:Rerank" not in json.dumps(synth.templates[STACK])
    assert "rerank" not in json.dumps(role_statements(synth))


def test_bedrock_app_passes_cdk_nag_with_one_precise_acknowledgment(bedrock: Any) -> None:
    report = json.loads((bedrock.outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report
    resources = bedrock.templates[STACK]["Resources"]
    policy = resources[bedrock.logical_id(bedrock.stacks.api.api.rerank_policy)]
    (rule,) = policy["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert rule["id"] == "AwsSolutions-IAM5[Resource::*]"
    assert "bedrock:Rerank has no resource type" in rule["reason"]
