from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.errors import InvalidInputError
from llm_twin.rag.links import BlockedLinkError, LinkError
from llm_twin.rag.models import DraftRequest, RagRequest
from llm_twin.rag.service import RagService
from llm_twin.rag.settings import RagSettings
from llm_twin.settings import Settings
from tests.rag.conftest import ADA, BRUNO
from tests.rag.fakes import Directory, ScriptedChatModel

SETTINGS = RagSettings(expansions=2, context_tokens=400, min_similarity=0.2)
ARTICLE = """<html><head><title>Starter science</title></head><body><article><h1>Starter science</h1>
<p>Lactobacilli dominate a mature sourdough starter; wild yeast provides the lift. Feeding ratios of
1:5:5 keep acidity in check.</p>{filler}</article></body></html>"""


def service(features, model, fetcher=None, settings=SETTINGS) -> RagService:
    return RagService(features, model, Directory(ADA, BRUNO), fetcher, settings)


def authors_of(answer) -> set[str]:
    return {s.chunk_id.split("-")[0] for s in answer.sources}


@pytest.mark.parametrize("how", ["request", "self-query", "rules"])
def test_the_author_filter_never_leaks_other_authors(features, how: str) -> None:
    question = "How do you feed a sourdough starter?"
    if how == "request":
        model, request = ScriptedChatModel(), RagRequest(query=question, author=BRUNO)
    elif how == "self-query":
        model = ScriptedChatModel(self_query='{"author": "Bruno Vale"}')
        request = RagRequest(query=f"{question} (Bruno Vale)")
    else:
        model = ScriptedChatModel(self_query="garbage")
        request = RagRequest(query="What does Bruno Vale say about sourdough starter feeding?")
    outcome = service(features, model).answer_traced(request)
    assert outcome.answer.grounded
    assert authors_of(outcome.answer) == {"bruno"}
    fused = outcome.trace.stages["fusion"]
    assert fused and all(hit.document_id.startswith("bruno") for hit in fused)
    assert all(h.document_id.startswith("bruno") for name, s in outcome.trace.stages.items() for h in s)


def test_an_answer_calls_the_model_once_and_marks_citations(features) -> None:
    model = ScriptedChatModel(
        expansion="1. sourdough starter feeding schedule\n2. keeping rye starter active",
        answer="Feed it every twelve hours [1]; rye helps [1].",
    )
    outcome = service(features, model).answer_traced(
        RagRequest(query="How do I feed my sourdough starter?", author=ADA)
    )
    assert model.count("answer") == 1 and model.count("expansion") == 1 and model.count("self_query") == 1
    answer, trace = outcome.answer, outcome.trace
    assert answer.grounded and answer.sources[0].chunk_id == "ada-sourdough#0000"
    assert trace.cited == [1] and trace.source_numbers["ada-sourdough#0000"] == 1
    numbers = {s.chunk_id: s.number for s in answer.sources}
    assert numbers == trace.source_numbers  # the API's sources carry the prompt's [n]
    assert [s.cited for s in answer.sources] == [s.number == 1 for s in answer.sources]
    assert any(not s.cited for s in answer.sources)  # [2], [3] ... were given but not cited
    assert (
        len(trace.expanded_queries) == 3
        and trace.expanded_queries[0] == "How do I feed my sourdough starter?"
    )
    assert {"dense[0]", "lexical", "dense[2]", "fusion", "rerank", "context"} <= set(trace.stages)
    assert {"self_query", "expansion", "embed", "knn", "lexical", "rerank", "context", "generate"} <= set(
        trace.latency_ms
    )
    system = trace.messages[0].content
    assert ADA in system and "[n]" in system and "don't know" in system
    assert "[1] Sourdough starter care — https://example.com/ada-sourdough" in trace.messages[1].content
    assert trace.tokens["context"] <= SETTINGS.context_tokens


def test_nothing_relevant_does_not_call_the_model(features) -> None:
    model = ScriptedChatModel()
    outcome = service(features, model).answer_traced(
        RagRequest(query="quantum chromodynamics of gluon plasma", expand=False)
    )
    assert not outcome.answer.grounded and outcome.answer.sources == []
    assert model.count("answer") == 0 and "not" in outcome.answer.answer
    # no hits at all: an author filter matching nothing
    none = service(features, ScriptedChatModel()).answer(
        RagRequest(query="Rust ownership lifetimes", author=ADA, expand=False)
    )
    assert not none.grounded


def test_an_unknown_author_is_an_input_error(features) -> None:
    with pytest.raises(InvalidInputError):
        service(features, ScriptedChatModel()).answer(RagRequest(query="x", author="Nobody Here"))


@pytest.fixture
def article_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ARTICLE.format(filler="<p>More detail about hydration.</p>" * 200).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/starter-science"
    server.shutdown()
    server.server_close()


def test_draft_from_an_allow_listed_link(features, article_server: str) -> None:
    fetcher = Fetcher(Settings(crawl_allow_hosts=["127.0.0.1"], crawl_max_retries=0))
    model = ScriptedChatModel(answer="Starters are ecosystems [1].")
    outcome = service(features, model, fetcher).draft_traced(
        DraftRequest(
            kind="linkedin_post", prompt="A post about sourdough starters", link=article_server, author=ADA
        )
    )
    user = outcome.trace.messages[1].content
    assert "External source (not Ada Quill's writing" in user and "Lactobacilli" in user
    assert "LinkedIn post" in user and "[1] Sourdough starter care" in user
    external = user.split("<<<")[1].split(">>>")[0]
    assert default_count(external) <= SETTINGS.link_excerpt_tokens + 40
    assert outcome.answer.grounded and authors_of(outcome.answer) == {"ada"}
    assert model.count("answer") == 1 and "fetch_link" in outcome.trace.latency_ms


def default_count(text: str) -> int:
    from llm_twin.features.tokens import default_counter

    return default_counter().count(text)


@pytest.mark.parametrize(
    "link", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data", "not a url"]
)
def test_draft_with_a_blocked_link(features, link: str) -> None:
    fetcher = Fetcher(Settings(crawl_max_retries=0))  # no allow-list: loopback refused
    model = ScriptedChatModel()
    with pytest.raises(BlockedLinkError) as info:
        service(features, model, fetcher).draft(DraftRequest(prompt="a post", link=link))
    assert isinstance(info.value, InvalidInputError) and not model.calls


def test_draft_link_fetch_failure_is_a_link_error(features) -> None:
    fetcher = Fetcher(Settings(crawl_allow_hosts=["127.0.0.1"], crawl_max_retries=0, crawl_timeout_s=2))
    with pytest.raises(LinkError) as info:
        service(features, ScriptedChatModel(), fetcher).draft(
            DraftRequest(prompt="a post", link="http://127.0.0.1:9/x")
        )
    assert not isinstance(info.value, BlockedLinkError)


def test_article_draft_without_link(features) -> None:
    model = ScriptedChatModel(answer="# Kafka lag\n...")
    answer = service(features, model).draft(
        DraftRequest(kind="article", prompt="Kafka consumer lag alarms", author=ADA)
    )
    assert answer.grounded and answer.sources[0].document_id == "ada-kafka"
    assert "## headings" in model.calls[-1][1][1].content


def test_a_cached_author_list_is_reread_for_an_author_it_lacks(features) -> None:
    """The service reuses the author list between requests; one naming a newer author re-reads it."""
    directory = Directory(ADA)
    rag = RagService(features, ScriptedChatModel(), directory, None, SETTINGS)
    rag.answer(RagRequest(query="sourdough starter", author=ADA, expand=False))
    directory.authors += Directory(BRUNO).authors
    answer = rag.answer(RagRequest(query="sourdough starter", author=BRUNO, expand=False))
    assert authors_of(answer) <= {"bruno"}
    with pytest.raises(InvalidInputError):
        rag.answer(RagRequest(query="x", author="Nobody Here"))
