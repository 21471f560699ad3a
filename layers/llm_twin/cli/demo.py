"""``llm-twin demo``: the whole system, end to end, on the sample author served on 127.0.0.1.

Each stage prints what it did. State goes to ``<home>/demo`` (wiped first), so later commands can
inspect it: ``llm-twin --home .llm-twin/demo authors``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from llm_twin.cli import render
from llm_twin.cli.collect import collect
from llm_twin.cli.session import local_session
from llm_twin.collection.factory import collection_service
from llm_twin.crawling.linkedin import parse_linkedin_export
from llm_twin.features.factory import build_feature_service
from llm_twin.features.models import SearchFilters
from llm_twin.features.retrieval import search_chunks
from llm_twin.ids import author_id
from llm_twin.llm.local_model import base_model_dir
from llm_twin.local.llm import local_llm
from llm_twin.local.server import apply_environment
from llm_twin.rag.factory import build_rag_service
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from llm_twin.warehouse.transfer import export_jsonl

LOOPBACK = "127.0.0.1"
DEMO_QUESTIONS = (
    "How should I split documents into chunks for retrieval?",
    "What went wrong during the 3 a.m. incident?",
    "Which LoRA settings did she use to fine-tune a small model on a laptop?",
)


def _stage(number: int, title: str) -> None:
    print(f"\n== {number}. {title}")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    home = Path(settings.home) / "demo"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # The sample site is on loopback, which the SSRF guard refuses unless allowed by setting; the
    # handlers read their settings from the environment, as on Lambda.
    saved = apply_environment(
        {
            "LLM_TWIN_CRAWL_ALLOW_HOSTS": LOOPBACK,
            "LLM_TWIN_HOME": str(home),
            # SmolLM2-135M cannot produce the self-query JSON reliably: the rules extract filters.
            "LLM_TWIN_RAG_SELF_QUERY": "false",
            "LLM_TWIN_RAG_ANSWER_MAX_TOKENS": "160",
            "LLM_TWIN_RAG_DRAFT_MAX_TOKENS": "200",
        }
    )
    try:
        # The local model's safetensors copy is cached under the main home, not the demo's (wiped).
        demo = settings.model_copy(update={"home": home, "crawl_allow_hosts": [LOOPBACK]})
        with local_llm(settings) as llm_settings:
            _run(demo.model_copy(update={"lmi_url": llm_settings.lmi_url}))
        if getattr(args, "train", False):
            _train(demo, base=base_model_dir(settings.home), steps=args.train_steps, limit=args.train_limit)
    finally:
        apply_environment(saved)
    print(f"\nState kept in {home} — try: llm-twin --home {home} runs")
    return 0


def _run(settings: Settings) -> None:
    home = settings.home
    with SampleSite() as site, local_session(settings, mutating=True) as local:
        author = site.author_name
        links = site.entry_links()
        _stage(1, f"Collect {author}'s writing (Medium profile, Substack, blog, GitHub repository)")
        print("   + two links that must fail without failing the run: a 404 and a private address")
        bad = [f"{site.base_url('blog')}/no-such-post/", "http://10.0.0.1/internal"]
        began = time.perf_counter()
        summary = collect(local.settings, author, [*links, *bad])
        print(render.run_summary(summary))
        print(f"   ({time.perf_counter() - began:.1f} s)")

        _stage(2, "Collect again: the warehouse upsert is idempotent, nothing changed")
        again = collect(local.settings, author, links)
        print(render.run_summary(again))

        _stage(3, "Import the LinkedIn data-export archive (LinkedIn is never scraped)")
        archive = site.write_linkedin_export(home / "linkedin-export.zip")
        documents = parse_linkedin_export(archive, author, max_document_bytes=settings.max_document_bytes)
        outcomes = collection_service(local.settings).import_documents(author, documents)
        print(f"   {len(documents)} posts/articles from {archive.name}: {dict(outcomes)}")

        _stage(4, "The warehouse")
        warehouse = local.warehouse()
        stored = warehouse.list_documents()
        by_kind = Counter((str(d.platform), str(d.category)) for d in stored)
        rows = [(platform, category, count) for (platform, category), count in sorted(by_kind.items())]
        print(render.table(rows, ["platform", "category", "documents"]))
        words = sum(len(d.content.split()) for d in stored)
        print(f"   {len(stored)} documents, {words} words, {len(warehouse.list_authors())} author(s)")
        exported = export_jsonl(warehouse, home / "warehouse-export.jsonl")
        print(f"   exported {exported} items to {home / 'warehouse-export.jsonl'}")

        _stage(5, "RAG features: the table's stream → clean → chunk → embed → vector index")
        began = time.perf_counter()
        report = local.sync_features()
        service = build_feature_service(local.settings)
        info = service.index.info()
        print(
            f"   {report.delivered} stream records delivered to the feature handler in "
            f"{report.invocations} invocation(s), {time.perf_counter() - began:.1f} s"
        )
        if info is not None:
            print(f"   index {info.name}: {info.chunks} chunks, {info.model_name}, {info.dimension} dims")

        _stage(6, f"Search {author}'s writing (filtered k-NN, best 3 of each)")
        filters = SearchFilters(author_ids=[author_id(author)])
        for question in DEMO_QUESTIONS:
            print(f"   ? {question}")
            for hit in search_chunks(service, question, k=3, filters=filters):
                chunk = hit.chunk
                print(f"     {hit.score:.3f}  {chunk.title} [{chunk.platform}] {chunk.link}")

        _stage(7, "Ask the twin (RAG: hybrid retrieval → rerank → SmolLM2 behind the local LMI server)")
        rag = build_rag_service(local.settings)
        for question in DEMO_QUESTIONS[:2]:
            began = time.perf_counter()
            answer = rag.answer(RagRequest(query=question, author=author, k=3, expand=False))
            print(f"   ? {question}   ({time.perf_counter() - began:.1f} s)")
            _print_answer(answer)
        began = time.perf_counter()
        draft = rag.draft(
            DraftRequest(prompt="Why idempotent pipelines let you sleep at night", author=author)
        )
        print(f"\n   Draft a LinkedIn post ({time.perf_counter() - began:.1f} s):")
        _print_answer(draft)
        print(f"\n   Prompt traces: {local.settings.home / 'traces.jsonl'} (llm-twin traces)")


def _train(settings: Settings, *, base: Path, steps: int, limit: int) -> None:
    """``--train``: datasets from the sample author, a short SFT then DPO on SmolLM2-135M, then the
    same question to the fine-tuned twin (the local LMI server serves the newest model it finds)."""
    from llm_twin.cli.train import build_local_datasets, train_local
    from training.datasets.build import print_report

    _stage(8, f"Build the datasets ({limit} extracts; SmolLM2 writes the instructions)")
    began = time.perf_counter()
    # the instructions come from the base model the demo already converted (no second copy)
    report = build_local_datasets(settings.model_copy(update={"local_model_dir": base}), limit)
    print_report(report, False)
    print(f"   ({time.perf_counter() - began:.0f} s)")
    if report.skipped:
        print(f"   no training: {report.skipped}")
        return
    options = argparse.Namespace(tiny=False, config=None, max_steps=steps, dataset=None, base=None)
    _stage(9, f"Fine-tune SmolLM2-135M: SFT then DPO, {steps} steps each (LoRA, CPU)")
    sft = train_local("sft", options, settings, dataset=report.versions["instruct"].uri, base=str(base))
    print(f"   SFT {sft.run_id}: {_loss(sft)}, {sft.seconds:.0f} s")
    dpo = train_local(
        "dpo", options, settings, dataset=report.versions["preference"].uri, base=str(sft.merged_dir)
    )
    print(f"   DPO {dpo.run_id}: {_loss(dpo)}, {dpo.seconds:.0f} s")
    print(f"   serving {dpo.published_dir}")

    _stage(10, "Ask the fine-tuned twin the same question")
    # local_llm serves the newest folder under <home>/models/twin: the DPO run just published
    with local_llm(settings) as llm_settings, local_session(llm_settings, mutating=False) as local:
        answer = build_rag_service(local.settings).answer(
            RagRequest(query=DEMO_QUESTIONS[0], k=3, expand=False)
        )
    print(f"   ? {DEMO_QUESTIONS[0]}")
    _print_answer(answer)


def _loss(result: Any) -> str:
    if result.loss_first is None or result.loss_last is None:
        return "no loss logged"
    return f"loss {result.loss_first:.3f} → {result.loss_last:.3f} over {result.steps} steps"


def _print_answer(answer: RagAnswer) -> None:
    for line in answer.answer.strip().splitlines() or ["(empty)"]:
        print(f"     {line}")
    seen: dict[str, str] = {}
    for source in answer.sources:
        seen.setdefault(source.link, source.title)
    for link, title in seen.items():
        print(f"     - {title} — {link}")
