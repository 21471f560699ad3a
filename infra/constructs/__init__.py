"""One construct per capability; stacks compose them (infra/stacks)."""

from infra.constructs.collection_workflow import CollectionWorkflow
from infra.constructs.function import LayeredFunction
from infra.constructs.log_encryption import LogEncryption
from infra.constructs.recrawl_schedule import RecrawlSchedule
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.warehouse import Warehouse

__all__ = [
    "CollectionWorkflow",
    "LayeredFunction",
    "LogEncryption",
    "RecrawlSchedule",
    "SharedLayer",
    "Warehouse",
]
