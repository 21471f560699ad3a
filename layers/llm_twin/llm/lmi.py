"""The LMI protocol client: a ChatModel over a SageMaker LMI endpoint or any LMI-protocol HTTP server.

It sends the chat-completions body (``messages``), so the container applies the model's own chat
template (the one in tokenizer_config.json, i.e. :mod:`llm_twin.prompts.chat_template`). Transports
map failures to errors: timeouts, throttling and 5xx → TransientLlmError; other 4xx → LlmError.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from llm_twin.errors import LlmError, TransientLlmError
from llm_twin.llm.ports import ChatMessage, ChatModel, Generation, GenerationParams

if TYPE_CHECKING:
    from llm_twin.settings import Settings

CONTENT_TYPE = "application/json"
TIMEOUT_HEADER = "X-Llm-Twin-Timeout-S"  # the client's read timeout for this request, in seconds
_TRANSIENT_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalDependencyException",
    "ModelNotReadyException",
}


class LmiTransport(Protocol):
    def invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the container's /invocations and return the decoded JSON answer."""
        ...


def _decode(raw: bytes | str) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise LlmError(f"LMI answered invalid JSON: {str(raw)[:200]}") from exc
    if not isinstance(payload, dict):
        raise LlmError("LMI answered a non-object JSON value")
    return payload


def _status_error(status: int, detail: str) -> LlmError:
    message = f"LMI endpoint answered {status}: {detail[:500]}"
    return TransientLlmError(message) if status == 429 or status >= 500 else LlmError(message)


class HttpTransport:
    """``POST <url>/invocations`` with requests (the local server, or an LMI container on a port).

    The read timeout is ``timeout_s``; with ``min_tokens_per_s`` it grows with the request's token cap:
    ``timeout_s + max_tokens / min_tokens_per_s`` (see :func:`make_chat_model`). Every request names its
    read timeout in the ``X-Llm-Twin-Timeout-S`` header, so the local server can cancel a generation
    nobody will wait for (an LMI container ignores the header).
    """

    def __init__(
        self,
        url: str,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        min_tokens_per_s: float | None = None,
    ) -> None:
        if min_tokens_per_s is not None and min_tokens_per_s <= 0:
            raise ValueError("min_tokens_per_s must be positive")
        self.url = url.rstrip("/") + "/invocations"
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._min_tokens_per_s = min_tokens_per_s
        self._local = threading.local()  # one requests.Session per thread (Session is not thread-safe)

    def read_timeout(self, body: dict[str, Any]) -> float:
        """Seconds this request may wait for its answer."""
        if self._min_tokens_per_s is None:
            return self._timeout_s
        parameters = body.get("parameters")
        tokens = body.get("max_tokens") or (
            parameters.get("max_new_tokens") if isinstance(parameters, dict) else None
        )
        tokens = tokens if isinstance(tokens, int) and tokens > 0 else GenerationParams().max_new_tokens
        return self._timeout_s + tokens / self._min_tokens_per_s

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
        return session

    def invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        import requests

        read_timeout = self.read_timeout(body)
        try:
            response = self._session().post(
                self.url,
                json=body,
                headers={TIMEOUT_HEADER: f"{read_timeout:.3f}"},
                timeout=(self._connect_timeout_s, read_timeout),
            )
        except requests.Timeout as exc:
            message = f"LMI server {self.url}: no answer in {read_timeout:g} s: {exc}"
            raise TransientLlmError(message) from exc
        except requests.ConnectionError as exc:
            raise TransientLlmError(f"LMI server {self.url} unreachable: {exc}") from exc
        except requests.RequestException as exc:
            raise LlmError(f"LMI request to {self.url} failed: {exc}") from exc
        if response.status_code != 200:
            raise _status_error(response.status_code, response.text)
        return _decode(response.content)


class SageMakerTransport:
    """``sagemaker-runtime`` InvokeEndpoint on ``settings.lmi_endpoint_name``.

    The client has its own timeouts and no botocore retry (an LLM call is slow and the API Gateway
    budget is 29 s: the workflow or the caller retries on TransientLlmError), so it is not the shared
    ``aws_client``.
    """

    def __init__(self, settings: Settings, client: Any = None, endpoint_name: str | None = None) -> None:
        self.endpoint_name = endpoint_name or settings.lmi_endpoint_name
        if not self.endpoint_name:
            raise LlmError("LLM_TWIN_LMI_ENDPOINT_NAME is not set")
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()

    def _runtime(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                s = self._settings
                config = Config(
                    connect_timeout=s.lmi_connect_timeout_s,
                    read_timeout=s.lmi_timeout_s,
                    retries={"mode": "standard", "max_attempts": 1},
                )
                self._client = boto3.session.Session(region_name=s.region).client(
                    "sagemaker-runtime", region_name=s.region, endpoint_url=s.aws_endpoint_url, config=config
                )
            return self._client

    def invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        try:
            response = self._runtime().invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=CONTENT_TYPE,
                Accept=CONTENT_TYPE,
                Body=json.dumps(body).encode(),
            )
            raw = response["Body"].read()
        except ClientError as exc:
            raise _client_error(exc) from exc
        except (ReadTimeoutError, ConnectionError) as exc:
            raise TransientLlmError(f"SageMaker endpoint {self.endpoint_name}: {exc}") from exc
        except BotoCoreError as exc:
            raise LlmError(f"SageMaker endpoint {self.endpoint_name}: {exc}") from exc
        return _decode(raw)


def _client_error(exc: Any) -> LlmError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = f"SageMaker {code or status}: {error.get('Message', '')[:500]}"
    if code == "ModelError":  # the container failed; 4xx from the container itself is permanent
        original = int(exc.response.get("OriginalStatusCode") or 0)
        if 400 <= original < 500 and original != 429:
            return LlmError(message)
        return TransientLlmError(message)
    if code in _TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientLlmError(message)
    return LlmError(message)


def chat_body(messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
    """The chat-completions request LMI answers on /invocations."""
    body: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    if params.repetition_penalty != 1.0:
        body["repetition_penalty"] = params.repetition_penalty  # a vLLM sampling parameter LMI passes on
    return body


class LmiChatModel:
    """ChatModel over the LMI protocol (any transport)."""

    def __init__(self, settings: Settings, transport: LmiTransport) -> None:
        self._transport = transport
        self.model_name = settings.lmi_model_name

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        if not messages:
            raise LlmError("no messages to send")
        answer = self._transport.invoke(chat_body(messages, params or GenerationParams()))
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            if isinstance(answer.get("generated_text"), str):  # a handler that ignored the chat schema
                return Generation(text=answer["generated_text"], model=self.model_name)
            raise LlmError(f"unexpected LMI answer: {json.dumps(answer)[:300]}") from exc
        usage = answer.get("usage") or {}
        return Generation(
            text=content or "",
            model=str(answer.get("model") or self.model_name),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )


def make_chat_model(settings: Settings | None = None) -> ChatModel:
    """The ChatModel chosen by ``LLM_TWIN_LLM``: lmi-local (the LMI-protocol server at
    ``LLM_TWIN_LMI_URL``), lmi-sagemaker (endpoint ``LLM_TWIN_LMI_ENDPOINT_NAME``) or bedrock
    (Converse, ``LLM_TWIN_BEDROCK_CHAT_MODEL_ID``). Nothing connects until generate().

    Timeouts: on SageMaker one invocation may take ``lmi_timeout_s`` (the API sets it below the API
    Gateway integration timeout). The local server decodes on this machine's CPU, at 9-28 tokens/s idle
    and down to ~2 tokens/s on a loaded 2-core box, so a fixed budget either cuts long generations
    (a 512-token draft needs minutes) or waits minutes for a hung short one. A local call therefore gets
    ``lmi_timeout_s`` (prompt prefill, connection) plus ``max_tokens / lmi_local_min_tokens_per_s``
    (default 1 token/s, half the slowest rate measured): 124 s for a 64-token instruction, 572 s for a
    512-token draft. The server generates one request at a time; a call still queued when its budget
    ends is cancelled before it starts, one that runs out or whose client leaves stops at the next token.
    """
    from llm_twin.settings import get_settings

    settings = settings or get_settings()
    if settings.llm == "lmi-local":
        transport = HttpTransport(
            settings.lmi_url,
            settings.lmi_timeout_s,
            settings.lmi_connect_timeout_s,
            min_tokens_per_s=settings.lmi_local_min_tokens_per_s,
        )
        return LmiChatModel(settings, transport)
    if settings.llm == "lmi-sagemaker":
        return LmiChatModel(settings, SageMakerTransport(settings))
    from llm_twin.llm.bedrock import BedrockChatModel

    return BedrockChatModel(settings)
