"""The real SmolLM2 for tests (converted once per session by tests/conftest.py ``base_model``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.llm.local_model import LocalChatModel, base_model_dir
from llm_twin.settings import Settings


@pytest.fixture(scope="session")
def smollm2(model_home: Path, base_model: Path) -> Iterator[LocalChatModel]:
    model = LocalChatModel(Settings(home=model_home), base_model)
    assert base_model == base_model_dir(model_home)
    yield model
