"""What every part of the repository shares: the settings, the bound models, the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PynamoDBException

from llm_twin.settings import Settings
from llm_twin.warehouse.models import TableBinding, WarehouseModels, bind_models
from llm_twin.warehouse.records import as_utc

CONFLICT_ATTEMPTS = 2  # a conditional write that loses a race is re-read and retried once


def is_conditional_failure(exc: PynamoDBException) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class TableAccess:
    """Holds the configuration; binds the models lazily (no connection before the first request)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._binding = TableBinding(settings.table_name, settings.region, settings.aws_endpoint_url)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def models(self) -> WarehouseModels:
        return bind_models(self._binding)

    @staticmethod
    def _now(now: datetime | None = None) -> datetime:
        return as_utc(now) if now is not None else datetime.now(UTC)
