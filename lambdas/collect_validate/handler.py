"""Collection workflow, state Validate: request → run id + crawl targets (bad links reported).

The targets are written to S3 for the Distributed Map (ItemReader); the output only says where."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from llm_twin.collection.events import CollectionRequest
from llm_twin.collection.factory import collection_service
from llm_twin.observability import logger, metrics, tracer


class ValidateEvent(BaseModel):
    request: CollectionRequest
    execution_id: str | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateEvent)
def handler(event: ValidateEvent, context: LambdaContext) -> dict[str, Any]:
    run = collection_service().validate(event.request)
    logger.info("collection run validated", run_id=run.run_id, targets=run.link_count, key=run.targets.key)
    metrics.add_metric(name="LinksRequested", unit="Count", value=run.link_count)
    return run.model_dump(mode="json")
