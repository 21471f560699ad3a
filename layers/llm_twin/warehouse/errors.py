"""Warehouse errors. Conflicts that survive a retry raise :class:`llm_twin.errors.TransientStoreError`
(the workflow retries it); these are the permanent ones."""

from __future__ import annotations

from llm_twin.errors import InvalidInputError, LlmTwinError


class NotFoundError(InvalidInputError):
    """The author or run does not exist."""


class SnapshotFormatError(InvalidInputError):
    """A JSONL snapshot line is malformed. ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class UnknownItemTypeError(LlmTwinError):
    """The table holds an item whose ``item_type`` this code does not know (export refuses to drop it)."""
