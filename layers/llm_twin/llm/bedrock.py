"""ChatModel over Amazon Bedrock Converse through langchain-aws (the ``genai`` extra): dataset
generation and LLM-as-judge in the training workflow. The client comes from ``aws_client``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llm_twin.errors import LlmError, TransientLlmError
from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams

if TYPE_CHECKING:
    from llm_twin.settings import Settings

_TRANSIENT_CODES = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
}


class BedrockChatModel:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()
        self.model_name = settings.bedrock_chat_model_id

    def _runtime(self) -> Any:
        with self._lock:
            if self._client is None:
                from llm_twin.local.clients import aws_client

                self._client = aws_client("bedrock-runtime", self._settings)
            return self._client

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        try:
            from langchain_aws import ChatBedrockConverse
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise LlmError(
                "the bedrock chat model needs the genai extra: pip install llm-twin[genai]"
            ) from exc
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        params = params or GenerationParams()
        chat = ChatBedrockConverse(
            model=self.model_name,
            client=self._runtime(),
            region_name=self._settings.region,
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p if params.top_p < 1.0 else None,
            stop=list(params.stop) or None,
        )
        try:
            answer = chat.invoke([(m.role if m.role != "user" else "human", m.content) for m in messages])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            error = (
                TransientLlmError if code in _TRANSIENT_CODES or status == 429 or status >= 500 else LlmError
            )
            raise error(f"Bedrock {code or status}: {exc}") from exc
        except (ReadTimeoutError, ConnectionError) as exc:
            raise TransientLlmError(f"Bedrock unreachable: {exc}") from exc
        except BotoCoreError as exc:
            raise LlmError(f"Bedrock call failed: {exc}") from exc
        usage = answer.usage_metadata or {}
        return Generation(
            text=answer.text if isinstance(answer.text, str) else str(answer.content),
            model=self.model_name,
            prompt_tokens=usage.get("input_tokens"),
            completion_tokens=usage.get("output_tokens"),
        )
