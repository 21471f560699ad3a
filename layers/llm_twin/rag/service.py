"""The RAG inference pipeline: self-query → expansion → hybrid retrieval → rerank → context →
prompt → the chat model → answer with sources (and a trace of every stage)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.errors import InvalidInputError
from llm_twin.features.models import SearchFilters
from llm_twin.features.service import FeatureService
from llm_twin.features.tokens import TokenCounter, default_counter
from llm_twin.llm.ports import ChatMessage, ChatModel, GenerationParams
from llm_twin.rag import prompts
from llm_twin.rag.authors import AuthorDirectory, CachedAuthors
from llm_twin.rag.context import Context, assemble_context
from llm_twin.rag.expansion import QueryExpander
from llm_twin.rag.hybrid import Candidate, HybridRetriever
from llm_twin.rag.links import fetch_excerpt
from llm_twin.rag.models import DraftRequest, QueryFilters, RagAnswer, RagRequest, Source
from llm_twin.rag.rerank import LocalReranker, NoReranker, Reranker
from llm_twin.rag.self_query import SelfQuery, resolve_author
from llm_twin.rag.settings import RagSettings
from llm_twin.rag.trace import RagTrace, StageHit
from llm_twin.warehouse.records import Author

_CITATION = re.compile(r"\[(\d{1,2})\]")
EXCERPT_CHARS = 300
# Model calls of a request that may overlap (the expansion beside the self-query); shared by the
# process, threads created on first use. Bounded: a burst of requests queues instead of piling up.
_LLM_CALLS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rag-llm")


@dataclass(frozen=True)
class RagOutcome:
    answer: RagAnswer
    trace: RagTrace


def _stage(candidates: list[Candidate]) -> list[StageHit]:
    return [
        StageHit(chunk_id=c.chunk.chunk_id, document_id=c.chunk.document_id, score=c.score)
        for c in candidates
    ]


def search_filters(filters: QueryFilters, author: Author | None) -> SearchFilters:
    return SearchFilters(
        author_ids=[author.author_id] if author else None,
        platforms=filters.platforms or None,
        categories=filters.categories or None,
        published_after=filters.published_after,
        published_before=filters.published_before,
    )


def cited_numbers(text: str, available: int) -> list[int]:
    return sorted({n for n in map(int, _CITATION.findall(text)) if 1 <= n <= available})


class RagService:
    def __init__(
        self,
        feature_service: FeatureService,
        chat_model: ChatModel,
        warehouse: AuthorDirectory,
        fetcher: Fetcher | None = None,
        settings: RagSettings | None = None,
        *,
        reranker: Reranker | None = None,
        counter: TokenCounter | None = None,
        trace_sink: Callable[[RagTrace], None] | None = None,
    ) -> None:
        self.settings = settings or RagSettings()
        s = self.settings
        self._features = feature_service
        self._model = chat_model
        self._authors = CachedAuthors(warehouse, s.authors_cache_s)
        self._fetcher = fetcher
        self._counter = counter or default_counter()
        self._retriever = HybridRetriever(feature_service, rrf_k=s.rrf_k)
        self._reranker = reranker or LocalReranker.from_settings(feature_service, s)
        self._self_query = SelfQuery(
            chat_model if s.self_query else None, self._authors.list_authors, max_tokens=s.aux_max_tokens
        )
        self._expander = QueryExpander(chat_model, s.expansions, max_tokens=s.aux_max_tokens)
        self._sink = trace_sink

    # --- public API -------------------------------------------------------------------------------
    def answer(self, request: RagRequest) -> RagAnswer:
        return self.answer_traced(request).answer

    def draft(self, request: DraftRequest) -> RagAnswer:
        return self.draft_traced(request).answer

    def answer_traced(self, request: RagRequest) -> RagOutcome:
        trace = RagTrace(trace_id=uuid.uuid4().hex, kind="answer", query=request.query)
        clock = _Clock(trace)
        # The expansion needs neither the authors nor the filters: its LLM call runs beside theirs.
        expansion = _LLM_CALLS.submit(self._expand, request, trace) if request.expand else None
        with clock("authors"):
            authors = self._list_authors(request.author)  # filters, resolution, persona
        with clock("self_query"):
            filters, author = self._filters(request.query, request.author, trace, authors)
        with clock("expansion_wait"):
            queries = expansion.result() if expansion is not None else [request.query]
        trace.expanded_queries = queries
        candidates = self._retrieve(
            queries, search_filters(filters, author), request.k, request.rerank, trace, clock
        )
        persona = author.full_name if author else _sole_author(authors)
        best = max((c.dense for c in candidates if c.dense is not None), default=None)
        if best is None or best < self.settings.min_similarity:
            trace.notes.append(f"nothing relevant: best cosine {best} < {self.settings.min_similarity}")
            text = prompts.nothing_relevant(persona)
            trace.answer = text
            return self._finish(
                RagAnswer(answer=text, sources=[], trace_id=trace.trace_id, grounded=False), trace
            )
        with clock("context"):
            context = assemble_context(candidates, self._counter, self.settings.context_tokens)
        messages = prompts.answer_messages(request.query, context.text, persona)
        text = self._generate(messages, self.settings.answer_max_tokens, context, trace, clock)
        return self._finish(self._answer(text, context, trace, grounded=True), trace)

    def draft_traced(self, request: DraftRequest) -> RagOutcome:
        trace = RagTrace(trace_id=uuid.uuid4().hex, kind="draft", query=request.prompt)
        clock = _Clock(trace)
        with clock("authors"):
            authors = self._list_authors(request.author)
        author = _author(request.author, authors)
        trace.filters = QueryFilters(author=author.full_name if author else None)
        trace.filter_source = "request" if author else "none"
        external = None
        budget = self.settings.context_tokens
        if request.link:
            if self._fetcher is None:
                raise InvalidInputError("drafting from a link needs a fetcher")
            with clock("fetch_link"):
                external = fetch_excerpt(
                    self._fetcher,
                    request.link,
                    self._counter,
                    self.settings.link_excerpt_tokens,
                    self.settings.link_max_bytes,
                )
            budget = max(200, budget - self._counter.count(external.excerpt))
        query = f"{external.title}. {request.prompt}" if external else request.prompt
        trace.expanded_queries = [query]
        candidates = self._retrieve([query], search_filters(QueryFilters(), author), 5, True, trace, clock)
        relevant = [c for c in candidates if c.dense is None or c.dense >= self.settings.min_similarity]
        with clock("context"):
            context = assemble_context(relevant, self._counter, budget)
        external_text = f"{external.title} — {external.link}\n{external.excerpt}" if external else None
        persona = author.full_name if author else _sole_author(authors)
        messages = prompts.draft_messages(request.kind, request.prompt, context.text, persona, external_text)
        text = self._generate(messages, self.settings.draft_max_tokens, context, trace, clock)
        return self._finish(self._answer(text, context, trace, grounded=bool(context.groups)), trace)

    # --- stages -----------------------------------------------------------------------------------
    def _list_authors(self, requested: str | None) -> list[Author]:
        """The (cached) author list; re-read when it lacks the author a request names."""
        authors = self._authors.list_authors()
        if requested and resolve_author(requested, authors) is None:
            authors = self._authors.list_authors(fresh=True)
        return authors

    def _expand(self, request: RagRequest, trace: RagTrace) -> list[str]:
        start = time.perf_counter()
        try:
            return self._expander.expand(request.query, trace.notes)
        finally:
            trace.latency_ms["expansion"] = round((time.perf_counter() - start) * 1000, 2)

    def _filters(
        self, question: str, requested: str | None, trace: RagTrace, authors: Sequence[Author]
    ) -> tuple[QueryFilters, Author | None]:
        author = _author(requested, authors)
        filters, source = self._self_query.extract(question, trace.notes, authors=authors)
        if author is not None:  # the request's author wins over what the question suggests
            filters = filters.model_copy(update={"author": author.full_name})
            source = "request" if source == "none" else source
        elif filters.author:
            author = resolve_author(filters.author, authors)
        trace.filters, trace.filter_source = filters, source
        return filters, author

    def _retrieve(
        self, queries: list[str], filters: SearchFilters, k: int, rerank: bool, trace: RagTrace, clock: _Clock
    ) -> list[Candidate]:
        pool = self.settings.candidates_factor * k
        retrieval = self._retriever.retrieve(queries, filters, pool, trace.notes)
        for stage, ms in retrieval.latency_ms.items():
            trace.latency_ms[stage] = round(ms, 2)
        for name, hits in retrieval.lists.items():
            trace.record(
                name,
                [
                    StageHit(chunk_id=h.chunk.chunk_id, document_id=h.chunk.document_id, score=h.score)
                    for h in hits
                ],
            )
        trace.record("fusion", _stage(retrieval.candidates))
        reranker = self._reranker if rerank else NoReranker()
        with clock("rerank"):
            ranked = reranker.rerank(
                queries[0],
                retrieval.candidates,
                k,
                query_vector=retrieval.vectors.get(queries[0]),
                notes=trace.notes,
            )
        for c in ranked:  # keep the best cosine the retrieval saw (the relevance gate)
            original = next(x for x in retrieval.candidates if x.chunk.chunk_id == c.chunk.chunk_id)
            c.dense = original.dense
        trace.record("rerank", _stage(ranked))
        return ranked

    def _generate(
        self, messages: list[ChatMessage], max_tokens: int, context: Context, trace: RagTrace, clock: _Clock
    ) -> str:
        trace.messages = messages
        trace.record("context", _stage(context.candidates))
        trace.tokens["context"] = context.tokens
        with clock("generate"):
            params = GenerationParams(
                max_new_tokens=max_tokens, repetition_penalty=self.settings.repetition_penalty
            )
            generation = self._model.generate(messages, params)
        trace.tokens["prompt"] = generation.prompt_tokens or sum(
            self._counter.count(m.content) for m in messages
        )
        trace.tokens["completion"] = generation.completion_tokens or self._counter.count(generation.text)
        return generation.text.strip()

    def _answer(self, text: str, context: Context, trace: RagTrace, *, grounded: bool) -> RagAnswer:
        cited = cited_numbers(text, len(context.groups))
        sources = [
            Source(
                number=group.number,
                cited=group.number in cited,
                title=c.chunk.title,
                link=c.chunk.link,
                platform=c.chunk.platform,
                category=c.chunk.category,
                document_id=c.chunk.document_id,
                chunk_id=c.chunk.chunk_id,
                score=c.score,
                excerpt=c.chunk.text[:EXCERPT_CHARS],
            )
            for group in context.groups
            for c in group.candidates
        ]
        trace.source_numbers = {c.chunk.chunk_id: g.number for g in context.groups for c in g.candidates}
        trace.cited = cited
        trace.answer, trace.grounded = text, grounded
        return RagAnswer(answer=text, sources=sources, trace_id=trace.trace_id, grounded=grounded)

    def _finish(self, answer: RagAnswer, trace: RagTrace) -> RagOutcome:
        trace.grounded = answer.grounded
        if self._sink is not None:
            self._sink(trace)
        return RagOutcome(answer=answer, trace=trace)


def _author(name: str | None, authors: Sequence[Author]) -> Author | None:
    if not name:
        return None
    author = resolve_author(name, authors)
    if author is None:
        raise InvalidInputError(f"unknown author {name!r}")
    return author


def _sole_author(authors: Sequence[Author]) -> str | None:
    return authors[0].full_name if len(authors) == 1 else None


class _Clock:
    def __init__(self, trace: RagTrace) -> None:
        self._trace = trace
        self._name = ""
        self._start = 0.0

    def __call__(self, name: str) -> _Clock:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._trace.latency_ms[self._name] = round((time.perf_counter() - self._start) * 1000, 2)
