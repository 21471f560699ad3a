"""The web page (``layers/llm_twin/web``) on AWS: a private S3 bucket behind CloudFront.

* The bucket blocks all public access, is encrypted (SSE-S3), versioned, SSL-only and readable only by
  this distribution (Origin Access Control: the bucket policy names the distribution's ARN). Its server
  access logs, and CloudFront's standard logs, go to a second private bucket that expires them.
* CloudFront redirects HTTP to HTTPS, serves ``index.html`` at ``/`` and adds security headers to every
  answer: a Content-Security-Policy that allows only this origin's scripts and styles and, for
  ``fetch``, this origin and the API's (``connect-src``), HSTS, ``nosniff``, ``DENY`` framing, no referrer.
* ``BucketDeployment`` uploads the folder on every deploy, writes ``config.json``
  (``{"apiBaseUrl": <the API's stage URL>}``, read by app.js) and invalidates the distribution. Its
  function runs with a role of ours: exact actions, no AWS managed policy, a KMS-encrypted log group.

The API's CORS must allow :attr:`WebPage.origin` (``https://<distribution>.cloudfront.net``).

    web = WebPage(stack, "Web", config=config, log_key=key)   # then, once the API exists:
    web.connect_api(api.rest_api)                  # CSP connect-src + config.json
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, DefaultStackSynthesizer, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import log_retention, removal_policy
from infra.paths import LAYER_PACKAGE_DIR

WEB_DIR = LAYER_PACKAGE_DIR / "web"
WEB_EXCLUDES = ("*.py", "__pycache__")
CONFIG_FILE = "config.json"
DEPLOYMENT_HANDLER_PREFIX = "Custom::CDKBucketDeployment"
HSTS_MAX_AGE = Duration.days(730)
QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
CSP_PROPERTY = "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy"
NONCURRENT_VERSIONS_DAYS = 30  # old page versions kept for a rollback, then expired


def rest_api_origin(rest_api: apigw.IRestApi) -> str:
    """``https://<id>.execute-api.<region>.<suffix>``: the API's origin from its id only (not the stage),
    so a distribution using it never depends on the API's deployment."""
    return f"https://{rest_api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"


def content_security_policy(api_origin: str | None) -> str:
    connect = "'self'" + (f" {api_origin}" if api_origin else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "upgrade-insecure-requests",
        )
    )


class WebPage(Construct):
    """Exposes ``bucket``, ``log_bucket``, ``distribution``, ``headers``, ``deployment``,
    ``deployment_role``, ``deployment_logs``, ``origin`` (``https://<domain>``) and ``url``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        log_key: kms.IKey | None = None,
        rest_api: apigw.RestApi | None = None,
    ) -> None:
        """``log_key``: the project's CloudWatch Logs key (the deployment function's log group)."""
        super().__init__(scope, construct_id)
        self._api_origin: str | None = None
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # CloudFront standard logs are written with an ACL (the awslogsdelivery account): ACLs must be on.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.log_retention_days))],
            removal_policy=removal_policy(config),
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # SSE-S3: the page is public once served; a customer key would need a key policy for
            # CloudFront (OAC + SSE-KMS) and cost $1/month for no confidentiality gain.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/",
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(NONCURRENT_VERSIONS_DAYS))
            ],
            removal_policy=removal_policy(config),
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"{config.prefix}: security headers of the web page",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(None),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy",
                        value="camera=(), microphone=(), geolocation=(), payment=()",
                        override=True,
                    )
                ]
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix}: web page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        self.url = f"{self.origin}/"
        self._deployment(config, log_key)
        self._acknowledge()
        if rest_api is not None:
            self.connect_api(rest_api)

    def _deployment(self, config: InfraConfig, log_key: kms.IKey | None) -> None:
        """CDK's BucketDeployment, run by a role of ours with exact permissions: CDK's own grants
        (``s3:GetObject*``/``List*``/``DeleteObject*`` wildcards, invalidation on ``*``, the AWS managed
        basic execution policy) are dropped by handing it the role without policy updates."""
        self.deployment_logs = logs.LogGroup(
            self,
            "DeploymentLogs",
            encryption_key=log_key,
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.deployment_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{config.prefix}: uploads the web page to its bucket and invalidates the cache",
        )
        page = s3_assets.Asset(self, "Files", path=str(WEB_DIR), exclude=list(WEB_EXCLUDES))
        self.deployment_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.deployment_logs.log_group_arn],
            )
        )
        # The page's zip and config.json's zip, in the bootstrap assets bucket (keys are content hashes).
        self.deployment_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[page.bucket.arn_for_objects("*")])
        )
        self.deployment_role.add_to_policy(  # `aws s3 sync --delete`; the bucket's cr-owned tag
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketTagging"], resources=[self.bucket.bucket_arn]
            )
        )
        self.deployment_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject"], resources=[self.bucket.arn_for_objects("*")]
            )
        )
        self.deployment_role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                resources=[self.distribution.distribution_arn],
            )
        )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[s3deploy.Source.bucket(page.bucket, page.s3_object_key)],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],  # the files have no content hash: invalidate on every deploy
            prune=True,
            memory_limit=256,
            role=self.deployment_role.without_policy_updates(),
            log_group=self.deployment_logs,
        )

    def connect_api(self, rest_api: apigw.RestApi) -> None:
        """Let the page call this API: its origin in ``connect-src`` and its URL in ``config.json``."""
        if self._api_origin is not None:
            raise ValueError("the web page is already connected to an API")
        self._api_origin = rest_api_origin(rest_api)
        policy = cast(cloudfront.CfnResponseHeadersPolicy, self.headers.node.default_child)
        policy.add_property_override(CSP_PROPERTY, content_security_policy(self._api_origin))
        self.deployment.add_source(s3deploy.Source.json_data(CONFIG_FILE, {"apiBaseUrl": rest_api.url}))

    def _deployment_wildcards(self) -> list[str]:
        """The object-level resources of the deployment role, as cdk-nag names them (IAM5 findings)."""
        stack = Stack.of(self)
        bucket = stack.resolve(stack.get_logical_id(cast(s3.CfnBucket, self.bucket.node.default_child)))
        qualifier = self.node.try_get_context(QUALIFIER_CONTEXT) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        assets = f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*"
        return [f"Resource::{assets}", f"Resource::<{bucket}.Arn>/*"]

    def _acknowledge(self) -> None:
        nag.acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself (the page bucket's S3 access logs and CloudFront's "
            "standard logs): logging it into itself would log every log delivery.",
        )
        nag.acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: the page is the owner's own tool, usable wherever they travel; it holds "
            "no data (every call needs the API key) and the API has its own throttle and quota.",
        )
        nag.acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No AWS WAF web ACL: the distribution serves three static files (GET/HEAD only, cached); a web "
            "ACL costs more than the page for no protection of the API, which has its own throttling.",
        )
        nag.acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate, whose security policy CloudFront fixes at TLSv1: a "
            "minimum of TLSv1.2_2021 needs a custom domain and an ACM certificate, which this project does "
            "not require. Browsers negotiate TLS 1.3/1.2 anyway; HSTS is set.",
        )
        for finding in self._deployment_wildcards():
            nag.acknowledge(
                self.deployment_role,
                f"AwsSolutions-IAM5[{finding}]",
                "Object-level resources: the deployment reads the page's zips from the bootstrap assets "
                "bucket (their keys are content hashes) and writes/prunes the page bucket's objects "
                "(s3:GetObject, s3:PutObject, s3:DeleteObject only; no wildcard action).",
            )
        # The deployment's function is a stack-level singleton that CDK creates and configures.
        for handler in Stack.of(self).node.children:
            if handler.node.id.startswith(DEPLOYMENT_HANDLER_PREFIX):
                nag.acknowledge(
                    handler,
                    "AwsSolutions-L1",
                    "The BucketDeployment function's runtime is chosen by aws-cdk-lib (a CDK-owned "
                    "singleton that runs only during deployments), not by this project; it moves with "
                    "aws-cdk-lib upgrades.",
                )
