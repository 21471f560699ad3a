"""Collection workflow, state CrawlLink: crawl one link into the warehouse, report what happened.

Transient failures raise TransientFetchError / TransientStoreError; the workflow retries them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from llm_twin.collection.events import CrawlEvent
from llm_twin.collection.factory import collection_service
from llm_twin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CrawlEvent)
def handler(event: CrawlEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=event.run_id, link=event.target.link)
    report = collection_service().crawl(event)
    logger.info("link crawled", status=report.status, crawler=report.crawler, reason=report.reason)
    metrics.add_metric(name=f"Links{report.status.capitalize()}", unit="Count", value=1)
    metrics.add_metric(name="DocumentsNew", unit="Count", value=report.new)
    metrics.add_metric(name="DocumentsUpdated", unit="Count", value=report.updated)
    return report.model_dump(mode="json")
