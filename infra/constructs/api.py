"""The RAG inference API: API Gateway (REST, regional, stage ``v1``) -> one proxy integration -> ``api``.

Every method requires an API key except the CORS preflights and ``GET`` of the public paths
(``/health``, ``/openapi.json``: one definition, ``llm_twin.api.app.PUBLIC_PATHS``, which the local
server applies too); one key, in one usage plan (throttle + a
monthly quota per key). The stage throttles every method too (bounding all callers, keys or not), writes
JSON access logs to a KMS-encrypted log group and traces with X-Ray. Routing, body validation and the
small body limit are the handler's (powertools ``APIGatewayRestResolver``); API Gateway only caps bodies
at 10 MB and checks the required path parameter.
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import log_retention, removal_policy
from infra.constructs.feature_indexer import bedrock_model_arn
from infra.constructs.function import LayeredFunction
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.traces import PromptTraces
from infra.constructs.vector_index import VectorIndex, pin_role_name
from infra.constructs.warehouse import Warehouse
from llm_twin.api.app import PUBLIC_PATHS

SERVICE = "api"
HANDLER = "api"
MEMORY_MB = 1024  # JSON of 1024-dim vectors, prompt assembly; more memory = more CPU (cold start too)
TIMEOUT = Duration.seconds(60)
STAGE = "v1"
# The LMI call must end before API Gateway gives up (504), so the handler can answer with its own error.
LMI_TIMEOUT_MARGIN_S = 4
CORS_HEADERS = ("Content-Type", "X-Api-Key", "X-Amz-Date", "X-Amz-Security-Token", "Authorization")
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# One JSON object per request; every value quoted (a "-" placeholder would break unquoted numbers).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "userAgent": "$context.identity.userAgent",
    "apiKeyId": "$context.identity.apiKeyId",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}


def state_machine_arn(
    name: str, *, partition: str = Aws.PARTITION, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID
) -> str:
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def executions_arn(
    name: str, *, partition: str = Aws.PARTITION, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID
) -> str:
    """Every execution of the state machine ``name`` (execution names are chosen per run)."""
    return f"arn:{partition}:states:{region}:{account}:execution:{name}:*"


def sagemaker_endpoint_arn(endpoint_name: str) -> str:
    """``arn:aws:sagemaker:<region>:<account>:endpoint/<name>`` (SageMaker lowercases names in ARNs)."""
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint/{endpoint_name.lower()}"


def rerank_environment(config: InfraConfig) -> dict[str, str]:
    """``llm_twin.rag.settings.RagSettings`` fields of the reranker; none for ``local`` (the default)."""
    api = config.api
    if api.reranker == "local":
        return {}
    env = {"LLM_TWIN_RAG_RERANKER": api.reranker}
    if api.reranker == "bedrock":
        env["LLM_TWIN_RAG_RERANK_MODEL_ID"] = api.rerank_model
    return env


def api_environment(
    config: InfraConfig,
    *,
    warehouse: Warehouse,
    vector_index: VectorIndex,
    state_machine: sfn.IStateMachine,
    traces: PromptTraces,
    web_origin: str,
) -> dict[str, str]:
    """``llm_twin.settings.Settings`` fields of the API function (embedder = the feature indexer's)."""
    return {
        "LLM_TWIN_TABLE_NAME": warehouse.table.table_name,
        "LLM_TWIN_COLLECTION_STATE_MACHINE_ARN": state_machine.state_machine_arn,
        "LLM_TWIN_TRAINING_STATE_MACHINE_ARN": state_machine_arn(config.training_state_machine_name),
        "LLM_TWIN_VECTOR_INDEX": "opensearch",
        "LLM_TWIN_OPENSEARCH_ENDPOINT": vector_index.endpoint,
        "LLM_TWIN_INDEX_NAME": vector_index.index_name,
        "LLM_TWIN_EMBEDDER": "bedrock",
        "LLM_TWIN_BEDROCK_EMBEDDING_MODEL_ID": config.features.embedding_model,
        "LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS": str(config.features.embedding_dimension),
        "LLM_TWIN_LLM": "lmi-sagemaker",
        "LLM_TWIN_LMI_ENDPOINT_NAME": config.lmi_endpoint_name,
        "LLM_TWIN_LMI_TIMEOUT_S": str(max(1, config.api.integration_timeout_seconds - LMI_TIMEOUT_MARGIN_S)),
        "LLM_TWIN_WEB_ORIGIN": web_origin,
        "LLM_TWIN_TRACES_TABLE_NAME": traces.table.table_name,
        "LLM_TWIN_TRACES_RETENTION_DAYS": str(traces.retention_days),
        **rerank_environment(config),
    }


class Api(Construct):
    """Exposes ``handler`` (:class:`LayeredFunction`), ``role``, ``rest_api``, ``stage``, ``usage_plan``,
    ``api_key``, ``access_logs``, ``endpoint_arn`` (the LMI endpoint), ``model_arn`` (embeddings) and,
    with ``reranker=bedrock``, ``rerank_policy`` and ``rerank_model_arn`` (else None)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        warehouse: Warehouse,
        vector_index: VectorIndex,
        state_machine: sfn.IStateMachine,
        traces: PromptTraces,
        shared_layer: SharedLayer,
        log_key: kms.IKey,
        web_origin: str | None = None,
    ) -> None:
        """``web_origin``: the web page's origin for CORS (``WebPage.origin``, a token is fine);
        ``config.api.web_origin`` (a custom domain) wins when set; neither: no CORS."""
        super().__init__(scope, construct_id)
        self.web_origin = config.api.web_origin or web_origin or ""
        self.handler = LayeredFunction(
            self,
            "Handler",
            handler_name=HANDLER,
            description="llm-twin API: authors, collections, RAG and drafts (API Gateway proxy)",
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            environment=api_environment(
                config,
                warehouse=warehouse,
                vector_index=vector_index,
                state_machine=state_machine,
                traces=traces,
                web_origin=self.web_origin,
            ),
            shared_layer=shared_layer,
            log_key=log_key,
            config=config,
            service=SERVICE,
        )
        self.role = self.handler.role
        # The domain (data stack) names this role in its access policy by ARN, without importing it.
        pin_role_name(self.role, f"{config.prefix}-api-{Aws.REGION}")
        self._grant(config, warehouse, vector_index, state_machine, traces)
        self._rest_api(config, log_key)

    def _grant(
        self,
        config: InfraConfig,
        warehouse: Warehouse,
        vector_index: VectorIndex,
        state_machine: sfn.IStateMachine,
        traces: PromptTraces,
    ) -> None:
        warehouse.grant_read_write_data(self.role)  # authors CRUD, collection runs
        state_machine.grant_start_execution(self.role)  # states:StartExecution on this machine only
        # GET /collections/{run_id} of a run not yet in the warehouse asks Step Functions how it went.
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["states:DescribeExecution"],
            resource_arns=[executions_arn(config.collection_state_machine_name)],
        )
        vector_index.grant_read(self.role)
        traces.grant_write(self.role)
        self.model_arn = bedrock_model_arn(config.features.embedding_model)
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["bedrock:InvokeModel"], resource_arns=[self.model_arn]
        )
        self.endpoint_arn = sagemaker_endpoint_arn(config.lmi_endpoint_name)
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["sagemaker:InvokeEndpoint"], resource_arns=[self.endpoint_arn]
        )
        # POST /training and GET /training/{id}: the training stack's machine, named, not imported.
        name = config.training_state_machine_name
        self.training_state_machine_arn = state_machine_arn(name)
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["states:StartExecution"],
            resource_arns=[self.training_state_machine_arn],
        )
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["states:DescribeExecution"], resource_arns=[executions_arn(name)]
        )
        self._grant_rerank(config)
        for machine in (name, config.collection_state_machine_name):
            nag_executions = executions_arn(
                machine, partition="<AWS::Partition>", region="<AWS::Region>", account="<AWS::AccountId>"
            )
            nag.acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{nag_executions}]",
                "GET /collections/{id} and GET /training/{id} describe executions of these two state "
                "machines only; execution names are drawn per run, so the machine's execution prefix "
                "is the narrowest scope.",
            )

    def _grant_rerank(self, config: InfraConfig) -> None:
        """``reranker=bedrock``: the two actions Bedrock's reranking permissions page lists for calling
        Rerank directly, in a policy of their own so the '*' acknowledgment covers nothing else."""
        self.rerank_policy: iam.Policy | None = None
        self.rerank_model_arn: str | None = None
        if config.api.reranker != "bedrock":
            return
        self.rerank_model_arn = bedrock_model_arn(config.api.rerank_model)
        self.rerank_policy = iam.Policy(
            self,
            "RerankPolicy",
            statements=[
                iam.PolicyStatement(sid="BedrockRerank", actions=["bedrock:Rerank"], resources=["*"]),
                iam.PolicyStatement(
                    sid="BedrockRerankModel",
                    actions=["bedrock:InvokeModel"],
                    resources=[self.rerank_model_arn],
                ),
            ],
        )
        self.role.attach_inline_policy(self.rerank_policy)
        nag.acknowledge(
            self.rerank_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "bedrock:Rerank has no resource type in the Service Authorization Reference (Amazon Bedrock "
            "actions), so '*' is its only scope; the model it may run is limited by the bedrock:InvokeModel "
            f"statement on the one foundation model {config.api.rerank_model}.",
        )

    def _rest_api(self, config: InfraConfig, log_key: kms.IKey) -> None:
        api = config.api
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=log_key,
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        cors = (
            apigw.CorsOptions(
                allow_origins=[self.web_origin],
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_HEADERS),
                max_age=Duration.hours(1),
            )
            if self.web_origin
            else None
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.prefix}-api",
            description="llm-twin: authors, collections, RAG and drafts (API key required)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,  # an account-wide singleton; access logs need no role
            default_cors_preflight_options=cors,
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                tracing_enabled=True,
                metrics_enabled=True,
                data_trace_enabled=False,  # would log request/response bodies (prompts)
                throttling_rate_limit=api.rate_limit,
                throttling_burst_limit=api.burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )
        self.stage = self.rest_api.deployment_stage
        # Checks the required path parameter; body validation has no model to apply on a single proxy
        # method (no per-route models), so bodies are validated by the handler (pydantic).
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(
            self.handler.function,
            proxy=True,
            timeout=Duration.seconds(api.integration_timeout_seconds),
        )
        self.rest_api.root.add_method("ANY", integration, api_key_required=True, request_validator=validator)
        # The resource inherits the API's CORS preflight (an OPTIONS method without an API key).
        self.rest_api.root.add_resource("{proxy+}").add_method(
            "ANY",
            integration,
            api_key_required=True,
            request_validator=validator,
            request_parameters={"method.request.path.proxy": True},
        )
        for path in sorted(PUBLIC_PATHS):  # more specific than {proxy+}: these methods take the request
            self.rest_api.root.add_resource(path.strip("/")).add_method(
                "GET", integration, api_key_required=False, request_validator=validator
            )
        if self.web_origin:
            # Browsers only see API Gateway's own errors (403 missing key, 429 throttled) with CORS headers.
            for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
                self.rest_api.add_gateway_response(
                    f"Gateway{response_type.response_type}",
                    type=response_type,
                    response_headers={"Access-Control-Allow-Origin": f"'{self.web_origin}'"},
                )

        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{config.prefix}-api",
            description="The owner's key: per-key throttle and monthly quota",
            throttle=apigw.ThrottleSettings(rate_limit=api.rate_limit, burst_limit=api.burst_limit),
            quota=apigw.QuotaSettings(limit=api.monthly_quota, period=apigw.Period.MONTH),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
        )
        # Generated value: never in the template; read it with `aws apigateway get-api-key --include-value`.
        self.api_key = self.rest_api.add_api_key("ApiKey", api_key_name=f"{config.prefix}-owner")
        self.usage_plan.add_api_key(self.api_key)
        self._acknowledge()

    def _acknowledge(self) -> None:
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No AWS WAF web ACL: $5/month per ACL + $1/month per rule + $0.60 per million requests is more "
            "than the API costs for a single-owner twin; API keys, the usage plan's throttle and monthly "
            "quota, and stage throttling bound abuse. Attach a web ACL to the stage when the API is shared.",
        )
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-APIG4",
            "Callers are authenticated with an API key (usage plan: throttle + quota per key) on every "
            "method except the CORS preflight: enough for one owner. Switch to an IAM or Cognito "
            "authorizer when several users need their own identities (docs/infrastructure.md, API).",
        )
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "No Cognito user pool: a single-owner API authenticated with an API key; see APIG4.",
        )
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role (one per account and "
            "region, shared by every API and environment; not this app's to own). JSON access logs record "
            "every request with status, latency, integration status and error type instead.",
        )
