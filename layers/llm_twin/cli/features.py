"""``llm-twin features [--rebuild]`` and ``llm-twin search``: the RAG feature pipeline locally."""

from __future__ import annotations

import argparse

from llm_twin.cli import render
from llm_twin.cli.session import local_session
from llm_twin.features.factory import build_feature_service
from llm_twin.features.models import SearchFilters, SearchHit
from llm_twin.features.retrieval import search_chunks
from llm_twin.features.service import rebuild
from llm_twin.ids import author_id
from llm_twin.settings import Settings


def cmd_features(args: argparse.Namespace, settings: Settings) -> int:
    with local_session(settings, mutating=True) as local:
        report = local.sync_features()
        service = build_feature_service(local.settings)
        if args.rebuild:
            documents = local.warehouse().list_documents()
            name, chunks = rebuild(documents, service.index, service.embedder, service.counter)
            print(f"rebuilt index generation {name}: {len(documents)} documents, {chunks} chunks")
        info = service.index.info()
    print(
        f"applied {report.delivered} warehouse changes"
        + (f", {report.pending} pending (index unavailable?)" if report.pending else "")
        + (f", {len(report.dead_lettered)} dead-lettered" if report.dead_lettered else "")
    )
    if info is not None:
        print(f"index {info.name}: {info.chunks} chunks, {info.model_name} ({info.dimension} dims)")
    return 0 if not report.pending else 1


def hit_json(hit: SearchHit) -> dict[str, object]:
    """The search contract of ARCHITECTURE.md section 6."""
    chunk = hit.chunk
    return {
        "text": chunk.text,
        "score": round(hit.score, 6),
        "document_id": chunk.document_id,
        "link": chunk.link,
        "title": chunk.title,
        "author": chunk.author_name,
        "platform": str(chunk.platform),
        "category": str(chunk.category),
    }


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    filters = SearchFilters(author_ids=[author_id(args.author)]) if args.author else None
    with local_session(settings, mutating=False) as local:
        service = build_feature_service(local.settings)
        hits = search_chunks(service, args.query, k=args.k, filters=filters)
    results = [hit_json(hit) for hit in hits]
    if args.json:
        render.print_json(results)
        return 0
    if not results:
        print("no results")
    for rank, result in enumerate(results, 1):
        excerpt = " ".join(str(result["text"]).split())[:240]
        print(f"{rank}. [{result['score']:.3f}] {result['title']} ({result['platform']}) — {result['link']}")
        print(f"   {excerpt}")
    return 0
