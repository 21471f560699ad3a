"""Request parsing for the LMI protocol: the ``inputs`` schema and the chat-completions schema."""

from __future__ import annotations

from typing import Any

from llm_twin.llm.ports import ChatMessage, GenerationParams

_TEXT_PARAMS = {"max_new_tokens", "temperature", "top_p", "do_sample", "stop", "details", "return_full_text"}
_TEXT_PARAMS |= {"repetition_penalty"}
_CHAT_FIELDS = {
    "messages",
    "model",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "repetition_penalty",
}
_CHAT_FIELDS |= {"stream", "seed", "user", "frequency_penalty", "presence_penalty", "logprobs"}


class BadRequest(ValueError):
    """The body is well-formed JSON but not a valid LMI request."""


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) and s for s in value):
        return value
    raise BadRequest("stop must be a string or a list of non-empty strings")


def _params(
    max_new_tokens: Any,
    temperature: Any,
    top_p: Any,
    do_sample: Any,
    stop: Any,
    repetition_penalty: Any = None,
) -> GenerationParams:
    if do_sample is not None and not isinstance(do_sample, bool):
        raise BadRequest("do_sample must be a boolean")
    if do_sample is False:
        temperature = 0.0
    elif temperature is None:
        temperature = 1.0 if do_sample else 0.0
    fields: dict[str, Any] = {"temperature": temperature, "stop": _stop(stop)}
    if max_new_tokens is not None:
        fields["max_new_tokens"] = max_new_tokens
    if top_p is not None:
        fields["top_p"] = top_p
    if repetition_penalty is not None:
        fields["repetition_penalty"] = repetition_penalty
    return GenerationParams.model_validate(fields, strict=False)


def parse_text(payload: Any) -> tuple[str, GenerationParams]:
    """``{"inputs": str, "parameters": {...}}``: greedy unless do_sample or a temperature is given."""
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object with 'inputs' or 'messages'")
    inputs = payload.get("inputs")
    if not isinstance(inputs, str) or not inputs:
        raise BadRequest("'inputs' must be a non-empty string (or send 'messages')")
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    unknown = set(parameters) - _TEXT_PARAMS
    if unknown:
        raise BadRequest(f"unsupported parameters: {sorted(unknown)}")
    if parameters.get("return_full_text"):
        raise BadRequest("return_full_text is not supported")
    p = parameters
    return inputs, _params(
        p.get("max_new_tokens"),
        p.get("temperature"),
        p.get("top_p"),
        p.get("do_sample"),
        p.get("stop"),
        p.get("repetition_penalty"),
    )


def parse_chat(payload: dict[str, Any]) -> tuple[list[ChatMessage], GenerationParams]:
    """The OpenAI chat-completions body LMI accepts on /invocations (one choice, no streaming)."""
    unknown = set(payload) - _CHAT_FIELDS
    if unknown:
        raise BadRequest(f"unsupported fields: {sorted(unknown)}")
    if payload.get("stream"):
        raise BadRequest("stream is not supported by the local server")
    if payload.get("n", 1) != 1:
        raise BadRequest("only n=1 is supported")
    raw = payload["messages"]
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list of {role, content}")
    messages = [ChatMessage.model_validate(m) for m in raw]
    max_tokens = payload.get("max_tokens", payload.get("max_completion_tokens"))
    temperature = payload.get("temperature")
    return messages, _params(
        max_tokens,
        1.0 if temperature is None else temperature,
        payload.get("top_p"),
        None,
        payload.get("stop"),
        payload.get("repetition_penalty"),
    )
