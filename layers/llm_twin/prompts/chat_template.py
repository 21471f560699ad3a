"""The one chat template, from dataset to training to serving: SmolLM2-Instruct's ChatML.

``CHAT_TEMPLATE`` is byte-for-byte the Jinja template shipped in SmolLM2-135M-Instruct's tokenizer
(tests/llm prove it); training writes it into tokenizer_config.json so the LMI container applies the
same format to ``messages`` bodies. :func:`render` applies that same template with jinja2 (sandboxed),
so nothing re-implements the format by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Template

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
GENERATION_PROMPT = f"{IM_START}assistant\n"
DEFAULT_SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@lru_cache(maxsize=1)
def _template() -> Template:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)  # as transformers does
    return env.from_string(CHAT_TEMPLATE)


def _as_dict(message: Any) -> dict[str, str]:
    if isinstance(message, Mapping):
        return {"role": str(message["role"]), "content": str(message["content"])}
    return {"role": str(message.role), "content": str(message.content)}


def render(messages: Sequence[Any], add_generation_prompt: bool = True) -> str:
    """The prompt text for ``messages`` (ChatMessage models or {"role", "content"} mappings)."""
    if not messages:
        raise ValueError("messages must not be empty")
    return _template().render(
        messages=[_as_dict(m) for m in messages], add_generation_prompt=add_generation_prompt
    )
