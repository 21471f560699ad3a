"""Feature pipeline: the warehouse table's DynamoDB stream → chunks and vectors in the index.

Partial batch failures are reported per record (ReportBatchItemFailures): a poison record fails
alone, Lambda retries from it (bisecting on AWS), and the rest of the batch is indexed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from llm_twin.features.factory import feature_service
from llm_twin.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> str:
    outcome = feature_service().apply_stream_record(record.raw_event)
    if outcome.action != "ignored":
        logger.info(
            "document change applied",
            action=outcome.action,
            document_id=outcome.document_id,
            chunks=outcome.chunks,
        )
        metrics.add_metric(name=f"Documents{outcome.action.capitalize()}", unit="Count", value=1)
        metrics.add_metric(
            name="ChunksIndexed", unit="Count", value=outcome.chunks if outcome.action == "indexed" else 0
        )
    return outcome.action


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
