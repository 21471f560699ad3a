"""A real embedded (LanceDB) index under tmp_path with the bag-of-words embedder: two authors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llm_twin.features.index.embedded import EmbeddedIndex
from llm_twin.features.service import FeatureService
from llm_twin.features.tokens import default_counter
from llm_twin.settings import Settings
from tests.rag.fakes import BowEmbedder, chunk, indexed

ADA = "Ada Quill"
BRUNO = "Bruno Vale"

ROWS = [
    chunk(
        ADA,
        "ada-sourdough",
        0,
        "Sourdough starter feeding: flour and water every twelve hours keeps "
        "the starter active. Rye flour makes a starter more vigorous.",
        title="Sourdough starter care",
        published=datetime(2024, 3, 1, tzinfo=UTC),
    ),
    chunk(
        ADA,
        "ada-sourdough",
        1,
        "Bake the sourdough loaf at high heat with steam for an open crumb.",
        title="Sourdough starter care",
        published=datetime(2024, 3, 1, tzinfo=UTC),
    ),
    chunk(
        ADA,
        "ada-kafka",
        0,
        "Kafka consumer lag alarms: page on sustained lag, not on spikes. "
        "Partition count limits consumer parallelism.",
        title="Kafka lag",
        platform="linkedin",
        category="post",
        published=datetime(2023, 6, 1, tzinfo=UTC),
    ),
    chunk(
        BRUNO,
        "bruno-sourdough",
        0,
        "Sourdough starter secrets: feed the starter with whole wheat "
        "flour and keep the starter warm for sourdough bread.",
        title="My sourdough starter",
        published=datetime(2024, 5, 1, tzinfo=UTC),
    ),
    chunk(
        BRUNO,
        "bruno-rust",
        0,
        "Rust borrow checker tips: lifetimes and ownership explained.",
        title="Rust ownership",
        platform="github",
        category="repository",
    ),
]


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> FeatureService:
    home = tmp_path_factory.mktemp("rag-home")
    embedder = BowEmbedder()
    index = EmbeddedIndex(Settings(home=home))
    index.ensure(embedder.model_name, embedder.dimension)
    index.upsert(indexed(embedder, ROWS))
    return FeatureService(index, embedder, default_counter())
