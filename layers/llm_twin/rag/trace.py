"""What one RAG request did, stage by stage (logged, returned to the CLI/API when asked)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from llm_twin.llm.ports import ChatMessage
from llm_twin.rag.models import QueryFilters


class StageHit(BaseModel):
    chunk_id: str
    document_id: str
    score: float


class RagTrace(BaseModel):
    trace_id: str
    kind: Literal["answer", "draft"]
    query: str
    filters: QueryFilters = Field(default_factory=QueryFilters)
    filter_source: Literal["request", "llm", "llm-repaired", "rules", "none"] = "none"
    expanded_queries: list[str] = Field(default_factory=list)
    stages: dict[str, list[StageHit]] = Field(
        default_factory=dict, description="dense[i] per query, lexical (all queries), fusion, rerank, context"
    )
    messages: list[ChatMessage] = Field(default_factory=list, description="The final prompt.")
    answer: str = ""
    grounded: bool = False
    cited: list[int] = Field(default_factory=list, description="Source numbers [n] the answer cites.")
    source_numbers: dict[str, int] = Field(default_factory=dict, description="chunk_id → its [n].")
    latency_ms: dict[str, float] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict, description="context, prompt, completion.")
    notes: list[str] = Field(default_factory=list, description="Fallbacks taken and why.")

    def record(self, stage: str, hits: list[StageHit]) -> None:
        self.stages[stage] = hits
