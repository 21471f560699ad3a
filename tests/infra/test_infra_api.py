"""The REST API: proxy methods, API keys and usage plan, stage (throttling, access logs, tracing), CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_twin.api.app import PUBLIC_PATHS

pytestmark = pytest.mark.infra

STACK = "LlmTwinApiStack"
ORIGIN = "https://twin.example.com"
CUSTOM = {  # every API context key overridden (and a CORS origin)
    "webOrigin": ORIGIN + "/",
    "apiRateLimit": 2,
    "apiBurstLimit": 4,
    "apiMonthlyQuota": 500,
    "apiIntegrationTimeoutSeconds": 60,
    "lmiEndpointName": "twin-llama",
    "lmiVariantName": "Blue",
    "tracesRetentionDays": 7,
    "apiLatencyAlarmMs": 20000,
}


@pytest.fixture(scope="module")
def custom(synthesizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An app with every API key overridden, cdk-nag on (a finding fails the fixture)."""
    return synthesizer(tmp_path_factory.mktemp("cdk-out-api"), CUSTOM)


def methods(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]


def test_one_regional_api_with_a_proxy_integration(synth: Any) -> None:
    template = synth.templates[STACK]
    api = synth.only(STACK, "AWS::ApiGateway::RestApi")["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert (api["Name"], api["ApiKeySourceType"]) == ("llm-twin-dev-api", "HEADER")
    parts = sorted(
        r["Properties"]["PathPart"] for r in synth.resources(STACK, "AWS::ApiGateway::Resource").values()
    )
    assert parts == ["health", "openapi.json", "{proxy+}"]
    function = {"Fn::GetAtt": [synth.logical_id(synth.stacks.api.api.handler.function), "Arn"]}
    found = methods(template)
    # root + {proxy+}, GET of the two public paths, and their CORS preflights (the web page's origin)
    assert sorted(m["HttpMethod"] for m in found) == ["ANY", "ANY", "GET", "GET", *["OPTIONS"] * 4]
    for method in (m for m in found if m["HttpMethod"] != "OPTIONS"):
        integration = method["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert function in integration["Uri"]["Fn::Join"][1]
        assert integration["TimeoutInMillis"] == 29_000  # API Gateway's default maximum


def test_cors_allows_the_web_page_by_default(synth: Any) -> None:
    distribution = synth.logical_id(synth.stacks.api.web.distribution)
    expected = {"Fn::Join": ["", ["'https://", {"Fn::GetAtt": [distribution, "DomainName"]}, "'"]]}
    for method in (m for m in methods(synth.templates[STACK]) if m["HttpMethod"] == "OPTIONS"):
        (response,) = method["Integration"]["IntegrationResponses"]
        assert (
            response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"] == expected
        )
    responses = synth.resources(STACK, "AWS::ApiGateway::GatewayResponse").values()
    assert [r["Properties"]["ResponseParameters"] for r in responses] == [
        {"gatewayresponse.header.Access-Control-Allow-Origin": expected}
    ] * 2


def test_every_method_but_preflights_and_public_gets_requires_an_api_key(synth: Any, custom: Any) -> None:
    for result in (synth, custom):
        template = result.templates[STACK]
        path_of = {
            logical_id: "/" + r["Properties"]["PathPart"]
            for logical_id, r in result.resources(STACK, "AWS::ApiGateway::Resource").items()
        }
        public = []
        for method in methods(template):
            path = path_of.get(method["ResourceId"].get("Ref", ""), "/")
            if method["HttpMethod"] == "OPTIONS":
                assert method.get("ApiKeyRequired", False) is False
                assert method["AuthorizationType"] == "NONE"
                assert method["Integration"]["Type"] == "MOCK"
            elif path in PUBLIC_PATHS:
                assert (method["HttpMethod"], method["ApiKeyRequired"]) == ("GET", False), method
                assert method["Integration"]["Type"] == "AWS_PROXY"
                public.append(path)
            else:
                assert method["ApiKeyRequired"] is True, method
        assert sorted(public) == sorted(PUBLIC_PATHS)


def test_request_validation(synth: Any) -> None:
    validator_id, validator = next(iter(synth.resources(STACK, "AWS::ApiGateway::RequestValidator").items()))
    assert validator["Properties"]["ValidateRequestParameters"] is True
    for method in methods(synth.templates[STACK]):
        if method["HttpMethod"] != "OPTIONS":  # CORS preflights are MOCK integrations
            assert method["RequestValidatorId"] == {"Ref": validator_id}
    (proxy_method,) = [m for m in methods(synth.templates[STACK]) if "RequestParameters" in m]
    assert proxy_method["RequestParameters"] == {"method.request.path.proxy": True}


def test_usage_plan_throttle_quota_and_one_key(synth: Any, custom: Any) -> None:
    for result, (rate, burst, quota) in ((synth, (5, 10, 10_000)), (custom, (2, 4, 500))):
        plan = result.only(STACK, "AWS::ApiGateway::UsagePlan")["Properties"]
        assert plan["Throttle"] == {"RateLimit": rate, "BurstLimit": burst}
        assert plan["Quota"] == {"Limit": quota, "Period": "MONTH"}
        stage_id = result.logical_id(result.stacks.api.api.stage)
        (api_stage,) = plan["ApiStages"]
        assert api_stage["Stage"] == {"Ref": stage_id}
        key = result.only(STACK, "AWS::ApiGateway::ApiKey")["Properties"]
        assert key["Name"] == "llm-twin-dev-owner"
        assert "Value" not in key  # generated: the value never appears in a template or output
        (link,) = result.resources(STACK, "AWS::ApiGateway::UsagePlanKey").values()
        assert link["Properties"]["KeyType"] == "API_KEY"


def test_stage_throttling_access_logs_and_tracing(synth: Any) -> None:
    stage = synth.only(STACK, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (5, 10)
    assert settings["DataTraceEnabled"] is False  # would log prompts and answers
    access = stage["AccessLogSetting"]
    log_group_id = synth.logical_id(synth.stacks.api.api.access_logs)
    assert {"Ref": log_group_id} in access["DestinationArn"]["Fn::Join"][1]
    fields = json.loads(access["Format"])
    assert {"requestId", "ip", "caller", "method", "path", "status", "latency", "apiKeyId"} <= set(fields)
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    group = synth.templates[STACK]["Resources"][log_group_id]["Properties"]
    assert group["RetentionInDays"] == 30
    assert "LogEncryptionKey" in group["KmsKeyId"]["Fn::ImportValue"]
    assert not synth.resources(STACK, "AWS::ApiGateway::Account")  # no account-wide CloudWatch role


def test_cors_only_for_the_configured_origin(custom: Any) -> None:
    template = custom.templates[STACK]
    options = [m for m in methods(template) if m["HttpMethod"] == "OPTIONS"]
    assert len(options) == 4  # root, {proxy+} and the two public paths
    for method in options:
        (response,) = method["Integration"]["IntegrationResponses"]
        params = response["ResponseParameters"]
        assert params["method.response.header.Access-Control-Allow-Origin"] == f"'{ORIGIN}'"
        assert "X-Api-Key" in params["method.response.header.Access-Control-Allow-Headers"]
    responses = [
        r["Properties"] for r in custom.resources(STACK, "AWS::ApiGateway::GatewayResponse").values()
    ]
    assert sorted(r["ResponseType"] for r in responses) == ["DEFAULT_4XX", "DEFAULT_5XX"]
    for response in responses:
        assert response["ResponseParameters"] == {
            "gatewayresponse.header.Access-Control-Allow-Origin": f"'{ORIGIN}'"
        }
    for method in methods(template):
        if method["HttpMethod"] == "ANY":
            assert method["Integration"]["TimeoutInMillis"] == 60_000


def test_stack_outputs_and_dependencies(synth: Any) -> None:
    stacks = synth.stacks
    assert stacks.api.stack_name == "llm-twin-dev-api"
    assert stacks.api.tags.tag_values() == {"project": "llm-twin", "environment": "dev"}
    assert set(stacks.api.dependencies) == {stacks.data, stacks.collection, stacks.features}
    outputs = synth.templates[STACK]["Outputs"]
    assert {"ApiUrl", "ApiKeyId", "ApiFunctionName", "DashboardName"} <= set(outputs)
    assert outputs["ApiKeyId"]["Value"] == {"Ref": synth.logical_id(stacks.api.api.api_key)}
    assert outputs["DashboardName"]["Value"] == "llm-twin-dev-overview"
    assert "Export" not in json.dumps(outputs)  # nothing imports from the API stack
    # Its own layer; only stable identifiers are imported (never a LayerVersion ARN).
    function = synth.templates[STACK]["Resources"][synth.logical_id(stacks.api.api.handler.function)]
    assert function["Properties"]["Layers"] == [{"Ref": synth.logical_id(stacks.api.shared_layer.layer)}]
    assert "Layer" not in "".join(
        v for v in _imports(synth.templates[STACK]["Resources"]) if isinstance(v, str)
    )


def _imports(node: Any) -> list[Any]:
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            return [node["Fn::ImportValue"]]
        return [i for value in node.values() for i in _imports(value)]
    if isinstance(node, list):
        return [i for value in node for i in _imports(value)]
    return []


def test_custom_app_passed_cdk_nag(custom: Any) -> None:
    report = json.loads((custom.outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report


def test_custom_values_reach_grants_environment_and_alarms(custom: Any) -> None:
    api = custom.stacks.api
    statements = custom.policy_statements(STACK, custom.logical_id(api.api.role))
    (invoke,) = [s for s in statements if s["Action"] == "sagemaker:InvokeEndpoint"]
    assert invoke["Resource"]["Fn::Join"][1][-1] == ":endpoint/twin-llama"
    function = custom.templates[STACK]["Resources"][custom.logical_id(api.api.handler.function)]
    env = function["Properties"]["Environment"]["Variables"]
    assert (env["LLM_TWIN_WEB_ORIGIN"], env["LLM_TWIN_LMI_ENDPOINT_NAME"]) == (ORIGIN, "twin-llama")
    assert (env["LLM_TWIN_LMI_TIMEOUT_S"], env["LLM_TWIN_TRACES_RETENTION_DAYS"]) == ("56", "7")
    resources = custom.templates[STACK]["Resources"]
    alarms = {
        name: resources[custom.logical_id(a)]["Properties"] for name, a in api.monitoring.alarms.items()
    }
    assert alarms["ApiLatencyP95"]["Threshold"] == 20000
    dims = {d["Name"]: d["Value"] for d in alarms["LmiEndpointErrors"]["Dimensions"]}
    assert dims == {"EndpointName": "twin-llama", "VariantName": "Blue"}
