"""One chat template: ours renders exactly what SmolLM2's own tokenizer template renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llm_twin.llm.local_model import gguf_path
from llm_twin.llm.ports import ChatMessage
from llm_twin.prompts.chat_template import CHAT_TEMPLATE, GENERATION_PROMPT, render

CONVERSATIONS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "You write like Ada."}, {"role": "user", "content": "Draft a post."}],
    [
        {"role": "user", "content": "First question?"},
        {"role": "assistant", "content": "First answer.\n\nWith a blank line."},
        {"role": "user", "content": "Braces {{ not jinja }} {% raw %} and <|im_end|> text, unicode é 漢字"},
    ],
    [{"role": "system", "content": "  padded  \n"}, {"role": "user", "content": ""}],
]


@pytest.fixture(scope="module")
def tokenizer(base_model: Path) -> Any:
    """SmolLM2's own tokenizer: read from the GGUF by transformers during the conversion, saved as is."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_model)


def test_constant_is_the_gguf_template() -> None:
    from gguf import GGUFReader

    field = GGUFReader(gguf_path()).fields["tokenizer.chat_template"]
    assert bytes(field.parts[field.data[0]]).decode() == CHAT_TEMPLATE


def test_constant_is_the_tokenizer_template(tokenizer: Any) -> None:
    assert tokenizer.chat_template == CHAT_TEMPLATE


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_render_equals_tokenizer(
    tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool
) -> None:
    expected = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert render(messages, add_generation_prompt=add_generation_prompt) == expected


def test_render_accepts_chat_messages() -> None:
    text = render([ChatMessage(role="user", content="hello")])
    assert text.endswith("<|im_start|>user\nhello<|im_end|>\n" + GENERATION_PROMPT)
    assert text.startswith("<|im_start|>system\n")


def test_empty_messages_rejected() -> None:
    with pytest.raises(ValueError):
        render([])
