"""The collection capability: validate -> Distributed Map(crawl per link) -> finalize, as a STANDARD
state machine, and the bucket of the runs' work files.

The ASL file and which function fills each placeholder come from ``llm_twin.workflows.catalog.COLLECTION``
(also read by the local runtime). The file is passed to CloudFormation unchanged as ``DefinitionString``;
CloudFormation fills its ``${...Arn}`` placeholders from ``DefinitionSubstitutions``, textually, as
``llm_twin.workflows.definitions.load_definition`` does. So AWS runs byte-for-byte the definition the
local runner executes.

The Map (Distributed mode, one STANDARD child execution per link) reads the run's targets from
``runs/<run_id>/targets.json`` (written by Validate, which says where in its output: no bucket name in the
ASL) and writes the children's results under ``runs/<run_id>/results/`` (ResultWriter). The key layout
comes from ``llm_twin.collection.run_objects``; the IAM resources below are built from it.
"""

from __future__ import annotations

import re
from typing import cast

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import access_log_bucket, log_retention, removal_policy
from infra.constructs.function import LayeredFunction
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.warehouse import Warehouse
from llm_twin.collection.run_objects import RESULTS_FOLDER, RUNS_PREFIX, TARGETS_FILE
from llm_twin.workflows.catalog import COLLECTION, WorkflowSpec

SERVICE = "collection"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")  # CloudFormation DefinitionSubstitutions syntax
RUN_OBJECT_DAYS = 7  # a run lasts hours; a week keeps the last weekly re-crawl's files for a look
TARGETS_OBJECTS = f"{RUNS_PREFIX}/*/{TARGETS_FILE}"  # runs/<run_id>/targets.json
RESULTS_OBJECTS = f"{RUNS_PREFIX}/*/{RESULTS_FOLDER}/*"  # runs/<run_id>/results/<map run id>/...
NAG_PARTITION, NAG_REGION, NAG_ACCOUNT = "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>"


def executions_arns(
    name: str, *, partition: str = Aws.PARTITION, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID
) -> list[str]:
    """The executions of the state machine ``name`` (``execution:<name>:<id>``) and its Distributed Map
    child executions (``execution:<name>/<map label>:<id>``)."""
    base = f"arn:{partition}:states:{region}:{account}:execution:{name}"
    return [f"{base}:*", f"{base}/*"]


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

        self.run_bucket, self.run_log_bucket = self._run_buckets(config)
        table_env = {"LLM_TWIN_TABLE_NAME": warehouse.table.table_name}
        common = {"shared_layer": shared_layer, "log_key": log_key, "config": config, "service": SERVICE}
        self.validate = LayeredFunction(
            self,
            "Validate",
            handler_name="collect_validate",
            description="llm-twin collection: validate the request, record the run, list the links to crawl",
            memory_mb=256,
            timeout=Duration.seconds(30),
            # The Map state reads MaxConcurrency from validate's output (max_concurrency), its items from
            # the targets object validate writes to the run bucket.
            environment={
                **table_env,
                "LLM_TWIN_CRAWL_MAX_CONCURRENCY": str(config.crawl_max_concurrency),
                "LLM_TWIN_COLLECTION_BUCKET": self.run_bucket.bucket_name,
            },
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
        # Validate writes runs/<run_id>/targets.json and nothing else of the bucket.
        self.validate.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.run_bucket.arn_for_objects(TARGETS_OBJECTS)]
            )
        )

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
        self._grant_distributed_map(config)
        self._acknowledge(config)

    def _run_buckets(self, config: InfraConfig) -> tuple[s3.Bucket, s3.Bucket]:
        """The runs' work files (targets in, Map results out) and its access-log bucket.

        SSE-S3 (the links are the authors' public profile links; Step Functions and Lambda read/write
        without KMS grants), all public access blocked, TLS only, no ACLs, not versioned (every object is
        written once per run), ``runs/`` expires after RUN_OBJECT_DAYS: the warehouse is the run's record.
        Server access logs go to a second private bucket, as for the project's other buckets."""
        log_bucket = access_log_bucket(self, "RunLogs", config)
        bucket = s3.Bucket(
            self,
            "RunBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="runs/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRunObjects", prefix=f"{RUNS_PREFIX}/", expiration=Duration.days(RUN_OBJECT_DAYS)
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=removal_policy(config),
        )
        return bucket, log_bucket

    def _grant_distributed_map(self, config: InfraConfig) -> None:
        """What the Distributed Map needs (AWS "IAM policies for using Distributed Map states"): start child
        executions of this state machine, describe/stop its executions, read the ItemReader's object and
        write the ResultWriter's files. The machine's ARN is built from its fixed name: referencing the
        state machine in its own role's policy would be a dependency cycle."""
        name = config.collection_state_machine_name
        self.state_machine_arn_by_name = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:{name}"
        )
        statements = [
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn_by_name]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=executions_arns(name)
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.run_bucket.arn_for_objects(TARGETS_OBJECTS)]
            ),
            # ResultWriter: PutObject, and the multipart calls of large result files.
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[self.run_bucket.arn_for_objects(RESULTS_OBJECTS)],
            ),
        ]
        for statement in statements:
            self.state_machine.add_to_role_policy(statement)

    def _acknowledge(self, config: InfraConfig) -> None:
        nag.acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only two statements use Resource '*': X-Ray tracing (no resource-level permissions) and the "
            "CloudWatch Logs log-delivery actions Step Functions logging requires (CreateLogDelivery etc. "
            "do not support resource-level permissions).",
        )
        stack = Stack.of(self)
        bucket = stack.resolve(stack.get_logical_id(cast(s3.CfnBucket, self.run_bucket.node.default_child)))
        targets, results = f"<{bucket}.Arn>/{TARGETS_OBJECTS}", f"<{bucket}.Arn>/{RESULTS_OBJECTS}"
        run_ids = "run ids are chosen per run (the execution name), so the prefix is the narrowest scope"
        nag.acknowledge(
            self.validate.role,
            f"AwsSolutions-IAM5[Resource::{targets}]",
            f"Validate writes runs/<run_id>/targets.json (s3:PutObject only); {run_ids}.",
        )
        nag.acknowledge(
            self.state_machine.role,
            f"AwsSolutions-IAM5[Resource::{targets}]",
            f"The Distributed Map's ItemReader reads runs/<run_id>/targets.json (GetObject only); {run_ids}.",
        )
        nag.acknowledge(
            self.state_machine.role,
            f"AwsSolutions-IAM5[Resource::{results}]",
            "The Distributed Map's ResultWriter writes runs/<run_id>/results/<map run id>/ (file names "
            f"chosen by Step Functions); {run_ids}.",
        )
        for arn in executions_arns(
            config.collection_state_machine_name,
            partition=NAG_PARTITION,
            region=NAG_REGION,
            account=NAG_ACCOUNT,
        ):
            nag.acknowledge(
                self.state_machine.role,
                f"AwsSolutions-IAM5[Resource::{arn}]",
                "The Distributed Map describes and stops this state machine's own executions and its child "
                "executions, whose names Step Functions draws per run and per link.",
            )
