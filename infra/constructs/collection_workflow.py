"""The collection capability: validate -> Map(crawl per link) -> finalize, as a STANDARD state machine.

The ASL file and which function fills each placeholder come from ``llm_twin.workflows.catalog.COLLECTION``
(also read by the local runtime). The file is passed to CloudFormation unchanged as ``DefinitionString``;
CloudFormation fills its ``${...Arn}`` placeholders from ``DefinitionSubstitutions``, textually, as
``llm_twin.workflows.definitions.load_definition`` does. So AWS runs byte-for-byte the definition the
local runner executes.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, Duration, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import log_retention, removal_policy
from infra.constructs.function import LayeredFunction
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.warehouse import Warehouse
from llm_twin.workflows.catalog import COLLECTION, WorkflowSpec

SERVICE = "collection"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")  # CloudFormation DefinitionSubstitutions syntax


def asl_placeholders(definition: str) -> set[str]:
    return set(_PLACEHOLDER.findall(definition))


class CollectionWorkflow(Construct):
    """Exposes ``validate``, ``crawl``, ``finalize`` (:class:`LayeredFunction`; also ``functions`` by
    lambdas/ folder), ``state_machine``, ``log_group`` (execution logs), ``definition`` (the ASL text
    deployed) and ``spec`` (the catalog entry)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        warehouse: Warehouse,
        shared_layer: SharedLayer,
        log_key: kms.IKey,
        spec: WorkflowSpec = COLLECTION,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.definition = spec.asl_path.read_text(encoding="utf-8")
        unmatched = asl_placeholders(self.definition) ^ set(spec.functions)
        if unmatched:
            raise ValueError(
                f"{spec.asl_file}: placeholders and catalog functions differ: {sorted(unmatched)}"
            )

        table_env = {"LLM_TWIN_TABLE_NAME": warehouse.table.table_name}
        common = {"shared_layer": shared_layer, "log_key": log_key, "config": config, "service": SERVICE}
        self.validate = LayeredFunction(
            self,
            "Validate",
            handler_name="collect_validate",
            description="llm-twin collection: validate the request, record the run, list the links to crawl",
            memory_mb=256,
            timeout=Duration.seconds(30),
            # The Map state reads MaxConcurrency from validate's output (max_concurrency).
            environment={**table_env, "LLM_TWIN_CRAWL_MAX_CONCURRENCY": str(config.crawl_max_concurrency)},
            **common,  # type: ignore[arg-type]
        )
        self.crawl = LayeredFunction(
            self,
            "Crawl",
            handler_name="collect_crawl",
            description="llm-twin collection: fetch one link, upsert the document (idempotent by URL + hash)",
            memory_mb=1024,  # repository tarballs (<= 50 MB) and HTML parsing; more memory = more CPU
            timeout=Duration.minutes(5),  # < the CrawlLink task's TimeoutSeconds in the ASL
            environment=table_env,
            reserved_concurrency=config.crawl_reserved_concurrency,
            **common,  # type: ignore[arg-type]
        )
        self.finalize = LayeredFunction(
            self,
            "Finalize",
            handler_name="collect_finalize",
            description="llm-twin collection: store the per-link report and the run summary",
            memory_mb=256,
            timeout=Duration.seconds(30),
            environment=table_env,
            **common,  # type: ignore[arg-type]
        )
        self.functions = {f.handler_name: f for f in (self.validate, self.crawl, self.finalize)}
        if set(spec.functions.values()) != set(self.functions):
            raise ValueError(
                f"catalog functions {sorted(spec.functions.values())} != {sorted(self.functions)}"
            )
        for fn in self.functions.values():
            warehouse.grant_read_write_data(fn.role)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # /aws/vendedlogs/ keeps Step Functions from growing the account's 5 KB CloudWatch Logs
            # resource policy with one entry per state machine; the stack id suffix makes the name
            # unique per stack instance (a retained group never blocks a re-created stack).
            log_group_name=Fn.join(
                "",
                [
                    f"/aws/vendedlogs/states/{config.prefix}-collection-",
                    Fn.select(2, Fn.split("/", Aws.STACK_ID)),
                ],
            ),
            encryption_key=log_key,
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=config.collection_state_machine_name,  # the API describes its executions
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(self.definition),
            definition_substitutions={
                placeholder: self.functions[folder].function.function_arn
                for placeholder, folder in spec.functions.items()
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        # The ASL invokes the unqualified function ARNs: exactly these three, no ":*" version wildcard.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function.function_arn for f in self.functions.values()],
            )
        )
        nag.acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only two statements use Resource '*': X-Ray tracing (no resource-level permissions) and the "
            "CloudWatch Logs log-delivery actions Step Functions logging requires (CreateLogDelivery etc. "
            "do not support resource-level permissions).",
        )
