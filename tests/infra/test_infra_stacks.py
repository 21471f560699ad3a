"""Stack composition, names, tags, outputs, and app.py synthesizing offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.paths import REPO_ROOT

pytestmark = pytest.mark.infra


def test_stack_names_and_tags(synth: Any) -> None:
    data, collection = synth.stacks.data, synth.stacks.collection
    assert (data.stack_name, collection.stack_name) == ("llm-twin-dev-data", "llm-twin-dev-collection")
    assert data.termination_protection is True
    for stack in (data, collection):
        assert stack.tags.tag_values() == {"project": "llm-twin", "environment": "dev"}
    assert collection.dependencies == [data]


def test_cross_stack_references_are_exports(
    data_template: dict[str, Any], collection_template: dict[str, Any]
) -> None:
    exports = {o["Export"]["Name"] for o in data_template["Outputs"].values() if "Export" in o}
    imports = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::ImportValue" in node:
                imports.add(node["Fn::ImportValue"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(collection_template["Resources"])
    assert imports and imports <= exports
    # Only stable identifiers cross stacks (never a LayerVersion ARN: it changes on every update).
    assert all(name.startswith("llm-twin-dev-data:") for name in imports)
    assert not any("Layer" in name for name in imports)


def test_outputs(data_template: dict[str, Any], collection_template: dict[str, Any]) -> None:
    assert {
        "WarehouseTableName",
        "WarehouseTableArn",
        "WarehouseTableStreamArn",
        "LogEncryptionKeyArn",
    } <= set(data_template["Outputs"])
    assert data_template["Outputs"]["WarehouseTableStreamArn"]["Value"]["Fn::GetAtt"][1] == "StreamArn"
    # Plus the export CDK adds for the API stack (LLM_TWIN_COLLECTION_STATE_MACHINE_ARN).
    assert {
        "CollectionStateMachineArn",
        "CollectionExecutionLogGroup",
        "SharedLayerVersionArn",
        "CollectValidateFunctionName",
        "CollectCrawlFunctionName",
        "CollectFinalizeFunctionName",
        "RecrawlScheduleName",
        "RecrawlDeadLetterQueueUrl",
    } == {o for o in collection_template["Outputs"] if not o.startswith("ExportsOutput")}


def test_no_lookups_and_no_hard_coded_environment(synth: Any) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "aws:cloudformation:stack":
            assert artifact["environment"] == "aws://unknown-account/unknown-region"
    assert not (REPO_ROOT / "cdk.context.json").exists()


def test_cdk_json_runs_app_py_and_carries_feature_flags() -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    context = cdk_json["context"]
    assert context["@aws-cdk/core:defaultCrossStackReferences"] == "strong"
    assert context["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert ".venv" in cdk_json["watch"]["exclude"]


def test_app_py_synthesizes_offline_without_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "LLM_TWIN_CDK_"))}
    env |= {
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []}),
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in tmp_path.glob("*.template.json")} == {
        "LlmTwinDataStack.template.json",
        "LlmTwinCollectionStack.template.json",
        "LlmTwinFeaturesStack.template.json",
        "LlmTwinApiStack.template.json",
        "LlmTwinTrainingStack.template.json",
        "LlmTwinServingStack.template.json",
    }
