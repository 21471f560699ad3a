"""Feature pipeline: the warehouse table's DynamoDB stream → chunks and vectors in the index.

The batch is written to the index together (one lookup, one embedding call, one delete, one upsert —
FeatureService.apply_stream_records); each record's outcome is then reported through powertools'
BatchProcessor, so partial batch failures stay per record (ReportBatchItemFailures): a poison record
fails alone, Lambda retries from it (bisecting on AWS), and the rest of the batch is indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from llm_twin.features.factory import feature_service
from llm_twin.features.service import ChangeOutcome, FeatureService, Outcome
from llm_twin.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def _report(outcome: ChangeOutcome) -> str:
    if outcome.action not in ("ignored", "superseded"):
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


def _record_handler(
    service: FeatureService, records: list[dict[str, Any]]
) -> Callable[[DynamoDBRecord], str]:
    applied: dict[str, Outcome] = {}
    for record, outcome in zip(records, service.apply_stream_records(records), strict=True):
        if record.get("eventID"):
            applied[str(record["eventID"])] = outcome

    def record_handler(record: DynamoDBRecord) -> str:
        outcome = applied.get(record.event_id or "")
        if outcome is None:  # a record without an eventID: applied on its own
            return _report(service.apply_stream_record(record.raw_event))
        if isinstance(outcome, Exception):
            raise outcome
        return _report(outcome)

    return record_handler


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = list(event.get("Records") or [])
    return process_partial_response(
        event=event,
        record_handler=_record_handler(feature_service(), records),
        processor=processor,
        context=context,
    )
