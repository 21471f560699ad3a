"""Composition root of the collection capability: wires settings → adapters → service.

Handlers call :func:`collection_service`; it is built lazily from the environment (as Lambda
configures it, and as the local runtime exports it) and reused while that configuration holds.
"""

from __future__ import annotations

from llm_twin.collection.run_objects import RunObjects
from llm_twin.collection.service import CollectionService
from llm_twin.composition import PerConfiguration
from llm_twin.crawling.dispatcher import Dispatcher
from llm_twin.crawling.fetcher import Fetcher
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse


def build_collection_service(settings: Settings) -> CollectionService:
    fetcher = Fetcher(settings)
    return CollectionService(
        warehouse=Warehouse(settings),
        crawler=Dispatcher(fetcher, settings),
        check_link=fetcher.check_url,
        max_concurrency=settings.crawl_max_concurrency,
        run_objects=RunObjects(settings),
    )


collection_service = PerConfiguration[CollectionService](build_collection_service)
