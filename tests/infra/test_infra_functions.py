"""The three collection functions: runtime, architecture, sizing, tracing, env, logs, layer."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinCollectionStack"
EXPECTED = {  # handler folder -> (memory MB, timeout s)
    "collect_validate": (256, 30),
    "collect_crawl": (1024, 300),
    "collect_finalize": (256, 30),
}


@pytest.fixture(scope="module")
def functions(synth: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    """handler folder -> (LayeredFunction construct, AWS::Lambda::Function resource)."""
    resources = synth.templates[STACK]["Resources"]
    workflow = synth.stacks.collection.workflow
    return {name: (fn, resources[synth.logical_id(fn.function)]) for name, fn in workflow.functions.items()}


def test_exactly_the_three_collection_functions(synth: Any, functions: dict[str, Any]) -> None:
    assert set(functions) == set(EXPECTED)
    assert len(synth.resources(STACK, "AWS::Lambda::Function")) == 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_function_configuration(synth: Any, functions: dict[str, Any], name: str) -> None:
    fn, resource = functions[name]
    props = resource["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert (props["MemorySize"], props["Timeout"]) == EXPECTED[name]
    assert props["TracingConfig"] == {"Mode": "Active"}
    layer_id = synth.logical_id(synth.stacks.collection.shared_layer.layer)
    assert props["Layers"] == [{"Ref": layer_id}]
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": synth.logical_id(fn.log_group)}}
    assert props["Role"] == {"Fn::GetAtt": [synth.logical_id(fn.role), "Arn"]}
    assert "ReservedConcurrentExecutions" not in props  # off by default (context crawlReservedConcurrency)


def test_function_code_is_its_lambdas_folder(synth: Any, functions: dict[str, Any]) -> None:
    from infra.paths import lambda_dir

    for name, (_fn, resource) in functions.items():
        asset_hash = resource["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        staged = synth.outdir / f"asset.{asset_hash}"
        assert (staged / "handler.py").read_bytes() == (lambda_dir(name) / "handler.py").read_bytes()
        assert not list(staged.rglob("__pycache__"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_environment(synth: Any, functions: dict[str, Any], name: str) -> None:
    env = functions[name][1]["Properties"]["Environment"]["Variables"]
    table_ref = synth.stacks.data.resolve(synth.stacks.data.warehouse.table.table_name)
    assert env["POWERTOOLS_SERVICE_NAME"] == "collection"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LlmTwin"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert set(env["LLM_TWIN_TABLE_NAME"]) == {"Fn::ImportValue"}  # the data stack's table
    assert table_ref == {"Ref": synth.logical_id(synth.stacks.data.warehouse.table)}
    # No function of the workflow starts executions: no ARN of its own state machine (no cycle).
    assert "LLM_TWIN_COLLECTION_STATE_MACHINE_ARN" not in env
    if name == "collect_validate":  # the Map's MaxConcurrencyPath reads validate's max_concurrency
        assert env["LLM_TWIN_CRAWL_MAX_CONCURRENCY"] == "4"
        # and its ItemReader the targets object validate writes to the run bucket
        assert env["LLM_TWIN_COLLECTION_BUCKET"] == {
            "Ref": synth.logical_id(synth.stacks.collection.workflow.run_bucket)
        }
    else:
        assert "LLM_TWIN_CRAWL_MAX_CONCURRENCY" not in env
        assert "LLM_TWIN_COLLECTION_BUCKET" not in env


def test_env_names_are_settings_fields(functions: dict[str, Any]) -> None:
    from llm_twin.settings import Settings

    fields = {f"LLM_TWIN_{name.upper()}" for name in Settings.model_fields}
    for _fn, resource in functions.values():
        names = {n for n in resource["Properties"]["Environment"]["Variables"] if n.startswith("LLM_TWIN_")}
        assert names <= fields, names - fields


def test_log_groups_have_retention_and_the_kms_key(synth: Any, functions: dict[str, Any]) -> None:
    resources = synth.templates[STACK]["Resources"]
    for fn, _resource in functions.values():
        group = resources[synth.logical_id(fn.log_group)]
        assert group["Properties"]["RetentionInDays"] == 30
        assert set(group["Properties"]["KmsKeyId"]) == {"Fn::ImportValue"}
        assert group["DeletionPolicy"] == "Retain"


def test_reserved_concurrency_from_context(tmp_path: Any) -> None:
    from aws_cdk.assertions import Match, Template

    from infra.application import create_app

    _app, stacks = create_app(
        {"aws:cdk:bundling-stacks": [], "crawlReservedConcurrency": "10", "crawlMaxConcurrency": "8"},
        outdir=str(tmp_path),
        nag_checks=False,
        environ={},
    )
    template = Template.from_stack(stacks.collection)
    reserved = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"ReservedConcurrentExecutions": Match.any_value()}}
    )
    assert [r["Properties"]["MemorySize"] for r in reserved.values()] == [1024]  # the crawler only
    assert next(iter(reserved.values()))["Properties"]["ReservedConcurrentExecutions"] == 10
    validate = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"LLM_TWIN_CRAWL_MAX_CONCURRENCY": "8"}}}},
    )
    assert len(validate) == 1
