"""``llm-twin ask`` / ``generate`` / ``serve`` / ``traces``: the RAG inference pipeline locally."""

from __future__ import annotations

import argparse

from llm_twin.cli import render
from llm_twin.cli.session import local_session
from llm_twin.local.llm import local_llm
from llm_twin.rag.factory import build_rag_service
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest
from llm_twin.rag.traces import JsonlTraceStore
from llm_twin.settings import Settings


def print_answer(answer: RagAnswer) -> None:
    print(answer.answer.strip())
    if answer.sources:
        print("\nSources (* cited in the answer):")
        seen: set[int] = set()
        for source in answer.sources:  # one line per [n]: a document's chunks share its number
            if source.number not in seen:
                seen.add(source.number)
                mark = "*" if source.cited else " "
                print(f" {mark}[{source.number}] {source.title} ({source.platform}) — {source.link}")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    request = RagRequest(query=args.question, author=args.author, k=args.k, expand=not args.no_expand)
    with local_llm(settings) as settings, local_session(settings, mutating=False) as local:
        answer = build_rag_service(local.settings).answer(request)
    render.print_json(answer) if args.json else print_answer(answer)
    return 0


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    request = DraftRequest(kind=args.kind, prompt=args.prompt, link=args.link, author=args.author)
    with local_llm(settings) as settings, local_session(settings, mutating=False) as local:
        answer = build_rag_service(local.settings).draft(request)
    render.print_json(answer) if args.json else print_answer(answer)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from llm_twin.api.local_server import serve

    return serve(settings, port=args.port)


def cmd_traces(args: argparse.Namespace, settings: Settings) -> int:
    store = JsonlTraceStore(settings.home / "traces.jsonl", settings.traces_retention_days)
    traces = store.recent(args.limit)
    if args.json:
        render.print_json(traces)
        return 0
    rows = [
        (
            t["recorded_at"][:19],
            t["kind"],
            "yes" if t["grounded"] else "no",
            f"{sum(t['latency_ms'].values()):.0f}",
            str(t["query"])[:60],
        )
        for t in traces
    ]
    print(render.table(rows, ["when", "kind", "grounded", "ms", "query"]))
    return 0
