"""The LLM port. Adapters: the LMI protocol client (a SageMaker LMI endpoint on AWS, the local
LMI-protocol server locally) and Bedrock. No adapter connects or loads a model at import or init."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationParams(BaseModel):
    max_new_tokens: int = Field(256, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy decoding")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, max_length=8)
    repetition_penalty: float = Field(
        1.0,
        ge=1.0,
        le=2.0,
        description="> 1 lowers the odds of tokens already generated (transformers/vLLM semantics); 1 = off. "
        "Small models loop without it. Bedrock's Converse API has no such knob: ignored there.",
    )


class Generation(BaseModel):
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class ChatModel(Protocol):
    model_name: str

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        """One chat completion. Raises TransientLlmError when a retry may succeed (timeouts, 5xx,
        throttling), LlmError otherwise."""
        ...
