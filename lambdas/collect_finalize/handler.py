"""Collection workflow, state Finalize: store caught failures, summarise the run.

Returns the run's outcome (status and counts, not the per-link report, which can be 20,000 links long:
Step Functions caps a state's payload at 256 KB). The report stays in the warehouse."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from llm_twin.collection.events import FinalizeEvent
from llm_twin.collection.factory import collection_service
from llm_twin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FinalizeEvent)
def handler(event: FinalizeEvent, context: LambdaContext) -> dict[str, Any]:
    summary = collection_service().finalize(event)
    logger.info("collection run finished", run_id=summary.run_id, status=summary.status, **summary.counts)
    metrics.add_metric(name=f"Runs{summary.status.capitalize()}", unit="Count", value=1)
    return summary.outcome().model_dump(mode="json")
