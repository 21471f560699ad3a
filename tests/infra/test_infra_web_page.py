"""The web page construct in a small stack of its own, wired to an API as the API stack would be: a
private, encrypted, SSL-only bucket read through Origin Access Control, HTTPS only, security headers,
the folder deployed, no dependency cycle with the API, and cdk-nag clean (acknowledged with reasons)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

EXPECTED_ACKNOWLEDGMENTS = {
    "AwsSolutions-S1",
    "AwsSolutions-CFR1",
    "AwsSolutions-CFR2",
    "AwsSolutions-CFR4",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
    "AwsSolutions-IAM5[Resource::<WebBucketE51352C0.Arn>/*]",
    "AwsSolutions-L1",
}


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _references(resource: dict[str, Any], logical_ids: set[str]) -> set[str]:
    """Logical ids a resource depends on: Ref, Fn::GetAtt, Fn::Sub ${X} and DependsOn."""
    found = set(resource.get("DependsOn", []) if isinstance(resource.get("DependsOn"), list) else [])
    if isinstance(resource.get("DependsOn"), str):
        found.add(resource["DependsOn"])
    for node in _walk(resource.get("Properties", {})):
        if "Ref" in node:
            found.add(node["Ref"])
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
    return found & logical_ids


def _has_cycle(resources: dict[str, dict[str, Any]]) -> list[str] | None:
    ids = set(resources)
    graph = {logical_id: _references(resource, ids) for logical_id, resource in resources.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A stack with the page, then an API whose CORS allows the page's origin, then the page connected
    to it (the order the API stack needs); synthesized with the AwsSolutions checks."""
    if shutil.which("node") is None:
        pytest.skip("the CDK needs node on PATH")
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_kms as kms

    from infra import nag
    from infra.config import config_from_values
    from infra.constructs.web_page import WebPage

    outdir = tmp_path_factory.mktemp("web-cdk-out")
    app = App(outdir=str(outdir))
    stack = Stack(app, "WebPageTest")
    key = kms.Key(stack, "LogKey", enable_key_rotation=True)
    web = WebPage(stack, "Web", config=config_from_values({}.get), log_key=key)
    api = apigw.RestApi(
        stack,
        "TestApi",
        default_cors_preflight_options=apigw.CorsOptions(allow_origins=[web.origin]),
        deploy_options=apigw.StageOptions(stage_name="v1"),
        cloud_watch_role=False,
    )
    api.root.add_method("GET", apigw.MockIntegration(), api_key_required=True)
    for rule in ("APIG1", "APIG2", "APIG3", "APIG4", "APIG6", "COG4"):  # the stand-in API, not under test
        nag.acknowledge(api, f"AwsSolutions-{rule}", "a stand-in REST API for the web page construct test")
    web.connect_api(api)
    nag.add_nag_checks(app)
    assembly = app.synth()  # an unacknowledged finding raises ValidationFailed here
    artifact = assembly.get_stack_artifact("WebPageTest")
    return {
        "template": artifact.template,
        "outdir": outdir,
        "stack": stack,
        "web": web,
        "api": api,
        "key": key,
        "asset_dir": Path(artifact.assembly.directory),
    }


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _logical_id(stack: Any, construct: Any) -> str:
    element = getattr(construct.node, "default_child", None) or construct
    return str(stack.resolve(stack.get_logical_id(element)))


def test_bucket_is_private_encrypted_versioned_and_logged(synthesized: dict[str, Any]) -> None:
    template, stack, web = synthesized["template"], synthesized["stack"], synthesized["web"]
    buckets = _resources(template, "AWS::S3::Bucket")
    page = buckets[_logical_id(stack, web.bucket)]["Properties"]
    logs = buckets[_logical_id(stack, web.log_bucket)]["Properties"]
    block_all = {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    for props in (page, logs):
        assert props["PublicAccessBlockConfiguration"] == block_all
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert "WebsiteConfiguration" not in props  # no S3 website endpoint: CloudFront only
    assert page["VersioningConfiguration"] == {"Status": "Enabled"}
    assert page["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": _logical_id(stack, web.log_bucket)},
        "LogFilePrefix": "s3/",
    }
    assert page["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30
    assert all(b["DeletionPolicy"] == "Retain" for b in buckets.values())


def test_bucket_policy_is_ssl_only_and_reads_only_through_this_distribution(
    synthesized: dict[str, Any],
) -> None:
    template, stack, web = synthesized["template"], synthesized["stack"], synthesized["web"]
    page_id = _logical_id(stack, web.bucket)
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template, "AWS::S3::BucketPolicy").values()
    ]
    assert len(policies) == 2  # the page's and the logs' buckets: both deny plain HTTP
    for statements in policies:
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Principal"] == {"AWS": "*"} and deny[0]["Action"] == "s3:*"
    page_policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": page_id}
    )
    reads = [s for s in page_policy if s["Effect"] == "Allow"]
    assert len(reads) == 1
    read = reads[0]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    source_arn = json.dumps(read["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert _logical_id(stack, web.distribution) in source_arn  # this distribution only


def test_distribution_uses_oac_https_and_the_headers_policy(synthesized: dict[str, Any]) -> None:
    template, stack, web = synthesized["template"], synthesized["stack"], synthesized["web"]
    (oac_id, oac), *others = _resources(template, "AWS::CloudFront::OriginAccessControl").items()
    assert not others
    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert not _resources(template, "AWS::CloudFront::CloudFrontOriginAccessIdentity")

    config = template["Resources"][_logical_id(stack, web.distribution)]["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not a legacy OAI
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": _logical_id(stack, web.headers)}
    assert config["Logging"]["Bucket"] == {
        "Fn::GetAtt": [_logical_id(stack, web.log_bucket), "RegionalDomainName"]
    }
    assert config["Logging"]["Prefix"] == "cloudfront/"


def test_security_headers_and_csp_allow_only_self_and_the_api(synthesized: dict[str, Any]) -> None:
    template, stack, web, api = (synthesized[k] for k in ("template", "stack", "web", "api"))
    policy = template["Resources"][_logical_id(stack, web.headers)]["Properties"][
        "ResponseHeadersPolicyConfig"
    ]
    security = policy["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 730 * 24 * 3600,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}
    csp = security["ContentSecurityPolicy"]
    assert csp["Override"] is True
    text = json.dumps(csp["ContentSecurityPolicy"])  # a Fn::Join: the API id is a token
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in text
    assert "connect-src 'self' https://" in text and _logical_id(stack, api) in text
    assert ".execute-api." in text
    assert "unsafe-inline" not in text and "unsafe-eval" not in text


def test_folder_and_config_are_deployed_then_invalidated(synthesized: dict[str, Any]) -> None:
    template, stack, web = synthesized["template"], synthesized["stack"], synthesized["web"]
    (deployment,) = _resources(template, "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": _logical_id(stack, web.bucket)}
    assert props["DistributionId"] == {"Ref": _logical_id(stack, web.distribution)}
    assert props["DistributionPaths"] == ["/*"]
    assert props["Prune"] is True
    assert len(props["SourceObjectKeys"]) == 2  # the folder and config.json
    markers = props["SourceMarkers"][1]  # config.json's token: the API stage's URL, filled at deploy
    (marker,) = markers
    assert _logical_id(stack, synthesized["api"]) in json.dumps(markers[marker])
    assets = [p for p in synthesized["asset_dir"].iterdir() if p.is_dir()]
    (page,) = [p for p in assets if (p / "index.html").is_file()]
    assert {f.name for f in page.iterdir()} == {"index.html", "app.js", "style.css"}
    (config,) = [p / "config.json" for p in assets if (p / "config.json").is_file()]
    # the marker stands for the whole JSON string (quotes included): valid JSON once substituted
    assert config.read_text().replace(marker, '"https://x"') == '{"apiBaseUrl":"https://x"}'


def test_deployment_runs_with_exact_permissions(synthesized: dict[str, Any]) -> None:
    template, stack, web = synthesized["template"], synthesized["stack"], synthesized["web"]
    role_id = _logical_id(stack, web.deployment_role)
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role  # no AWSLambdaBasicExecutionRole
    (handler,) = [
        r["Properties"]
        for r in _resources(template, "AWS::Lambda::Function").values()
        if r["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    ]
    assert handler["LoggingConfig"]["LogGroup"] == {"Ref": _logical_id(stack, web.deployment_logs)}
    statements = [
        statement
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:GetBucketTagging",
        "s3:PutObject",
        "s3:DeleteObject",
        "cloudfront:CreateInvalidation",
        "cloudfront:GetInvalidation",
    }
    assert all(statement["Resource"] != "*" for statement in statements)
    invalidation = next(s for s in statements if "cloudfront:CreateInvalidation" in s["Action"])
    assert _logical_id(stack, web.distribution) in json.dumps(invalidation["Resource"])
    logs = template["Resources"][_logical_id(stack, web.deployment_logs)]["Properties"]
    assert logs["KmsKeyId"] == {"Fn::GetAtt": [_logical_id(stack, synthesized["key"]), "Arn"]}
    assert logs["RetentionInDays"] == 30


def test_no_dependency_cycle_with_the_api(synthesized: dict[str, Any]) -> None:
    # The API's CORS names the distribution; the distribution's CSP names the API (by id only).
    assert _has_cycle(synthesized["template"]["Resources"]) is None


def test_cdk_nag_reports_nothing_unacknowledged(synthesized: dict[str, Any]) -> None:
    report = json.loads((synthesized["outdir"] / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report
    found = set()
    for resource in synthesized["template"]["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-"):  # CDK also lists cfn-lint rules it silences
                found.add(rule["id"])
            assert len(rule["reason"]) >= 20
    page_rules = found - {f"AwsSolutions-{r}" for r in ("APIG1", "APIG2", "APIG3", "APIG4", "APIG6", "COG4")}
    assert page_rules == EXPECTED_ACKNOWLEDGMENTS


def test_connecting_twice_is_refused(synthesized: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="already connected"):
        synthesized["web"].connect_api(synthesized["api"])
