"""One integration run with the real local model (SmolLM2-135M-Instruct) behind the ChatModel port:
self-query, expansion and the answer all go through it; skipped when the adapter is not available."""

from __future__ import annotations

import pytest

from llm_twin.rag.models import RagRequest
from llm_twin.rag.service import RagService
from llm_twin.rag.settings import RagSettings
from llm_twin.settings import Settings
from tests.rag.conftest import ADA, BRUNO
from tests.rag.fakes import Directory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_answer_with_the_local_model(features, tmp_path_factory: pytest.TempPathFactory) -> None:
    local_model = pytest.importorskip("llm_twin.llm.local_model")
    pytest.importorskip("transformers")
    model = local_model.LocalChatModel(Settings(home=tmp_path_factory.mktemp("llm-home")))
    try:
        model.load()
    except Exception as exc:  # weights package missing, conversion failed: not this module's concern
        pytest.skip(f"local model unavailable: {exc}")
    settings = RagSettings(expansions=1, aux_max_tokens=48, answer_max_tokens=48)
    service = RagService(features, model, Directory(ADA, BRUNO), None, settings)
    outcome = service.answer_traced(RagRequest(query="How often should Ada Quill feed a sourdough starter?"))
    answer, trace = outcome.answer, outcome.trace
    print(f"\nlocal LLM: filters {trace.filters} ({trace.filter_source}), queries {trace.expanded_queries}")
    print(f"answer: {answer.answer!r}\nlatency ms: {trace.latency_ms}\ntokens: {trace.tokens}")
    assert answer.grounded and answer.answer
    assert trace.filters.author == ADA  # from the LLM or, failing that, the rules
    assert {s.document_id.split("-")[0] for s in answer.sources} == {"ada"}
    assert trace.expanded_queries[0] == "How often should Ada Quill feed a sourdough starter?"
    assert trace.tokens["prompt"] > 0 and trace.tokens["completion"] > 0
