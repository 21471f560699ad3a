"""The feature pipeline: the warehouse table's DynamoDB stream -> clean, chunk, embed (Bedrock) -> index.

The event source mapping overrides every unsafe default of DynamoDB stream sources (infinite retries,
no bisect, whole-batch retries, records silently dropped after 24 h): TRIM_HORIZON, bisect on error,
finite retries, a maximum record age below the stream's 24 h retention, ReportBatchItemFailures and an
SQS on-failure destination. Filter criteria let only document items through, so author, run and link
status writes never invoke (or bill) the function.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.function import LayeredFunction
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.vector_index import VectorIndex, pin_role_name
from infra.constructs.warehouse import Warehouse
from llm_twin.features.stream_filter import DOCUMENT_FILTER_PATTERNS

SERVICE = "features"
HANDLER = "feature_indexer"
MEMORY_MB = (
    1024  # CPU for markdown cleaning/chunking and JSON bodies of 1024-dim vectors; I/O bound otherwise
)
TIMEOUT = Duration.minutes(5)  # a batch of large documents: hundreds of embedding calls + bulk requests
RETRY_ATTEMPTS = 5  # then the batch (after bisecting to the failing record) goes to the DLQ
MAX_RECORD_AGE = Duration.hours(6)  # < 24 h stream retention: a record in the DLQ is still readable
# Lambda reads the stream with the execution role; it checks these four actions on the stream ARN.
STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)


def indexer_environment(
    config: InfraConfig, warehouse: Warehouse, vector_index: VectorIndex
) -> dict[str, str]:
    """``llm_twin.settings.Settings`` fields (``LLM_TWIN_`` + upper-case field name) of the indexer."""
    return {
        "LLM_TWIN_TABLE_NAME": warehouse.table.table_name,
        "LLM_TWIN_VECTOR_INDEX": "opensearch",
        "LLM_TWIN_OPENSEARCH_ENDPOINT": vector_index.endpoint,
        "LLM_TWIN_INDEX_NAME": vector_index.index_name,
        # A one-node domain cannot place replicas (the cluster would stay yellow); one per shard otherwise.
        "LLM_TWIN_OPENSEARCH_REPLICAS": "0" if config.vector.instance_count == 1 else "1",
        "LLM_TWIN_EMBEDDER": "bedrock",
        "LLM_TWIN_BEDROCK_EMBEDDING_MODEL_ID": config.features.embedding_model,
        "LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS": str(config.features.embedding_dimension),
    }


def bedrock_model_arn(model_id: str) -> str:
    """Foundation model ARNs have no account: ``arn:aws:bedrock:<region>::foundation-model/<id>``."""
    return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"


class FeatureIndexer(Construct):
    """Exposes ``indexer`` (:class:`LayeredFunction`), ``role``, ``event_source_mapping``,
    ``dead_letter_queue`` and ``model_arn``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        warehouse: Warehouse,
        vector_index: VectorIndex,
        shared_layer: SharedLayer,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        features = config.features
        stream_arn = warehouse.table.table_stream_arn
        if stream_arn is None:
            raise ValueError("the warehouse table has no stream")

        # Lambda writes one message per failed batch: shard, sequence numbers, error - not the records.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # free; a KMS key would need kms:* grants
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        nag.acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the on-failure destination of the stream event source mapping (cdk-nag "
            "only recognizes DLQs referenced by an SQS redrive policy); a DLQ of a DLQ adds nothing.",
        )

        self.indexer = LayeredFunction(
            self,
            "Indexer",
            handler_name=HANDLER,
            description="llm-twin features: document changes from the warehouse stream -> vector index",
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            environment=indexer_environment(config, warehouse, vector_index),
            shared_layer=shared_layer,
            log_key=log_key,
            config=config,
            service=SERVICE,
        )
        self.role = self.indexer.role
        # The domain (data stack) names this role in its access policy by ARN, without importing it.
        pin_role_name(self.role, f"{config.prefix}-feature-indexer-{Aws.REGION}")

        self.model_arn = bedrock_model_arn(features.embedding_model)
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["bedrock:InvokeModel"], resource_arns=[self.model_arn]
        )
        # Explicit instead of table.grant_stream_read, which adds dynamodb:ListStreams on "*".
        iam.Grant.add_to_principal(
            grantee=self.role, actions=list(STREAM_READ_ACTIONS), resource_arns=[stream_arn]
        )
        warehouse.grant_read_data(self.role)  # e.g. the author's name for the chunk payload
        vector_index.grant_read_write(self.role)

        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "StreamMapping",
            target=self.indexer.function,
            event_source_arn=stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=features.batch_size,
            max_batching_window=Duration.seconds(features.batch_window_seconds),
            parallelization_factor=features.parallelization_factor,
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.dead_letter_queue),  # grants sqs:SendMessage to the role
            filters=[lambda_.FilterCriteria.filter(pattern) for pattern in DOCUMENT_FILTER_PATTERNS],
        )
