"""Build the instruction and preference datasets from the warehouse's documents.

The pipeline (each step deterministic except the LLM's replies, which are greedy):

1. documents → extracts (:mod:`training.datasets.extracts`);
2. extract filters, before any LLM call so both kinds share them: language heuristic, exact duplicates
   (normalised SHA-256), near duplicates (MinHash LSH, :mod:`training.datasets.quality`);
3. the split by document (``test_ratio``), then ``limit`` (round-robin over documents, test documents
   get their share) picks the extracts sent to the LLM;
4. per extract: an instruction (:class:`~training.datasets.generation.Generator`), and for preference
   a draft written from the instruction alone;
5. rows: instruct ``(instruction, answer = the extract, answer_source="author")``; preference
   ``(prompt = instruction, chosen = the extract, rejected = the draft)``, dropped when the draft is too
   short, not English by the heuristic, or too similar to the chosen text (shingle Jaccard);
6. each kind is written as a content-hashed version with its card (:mod:`training.datasets.store`).

On AWS this module is the SageMaker Processing job's entry point::

    python -m training.datasets.build --warehouse-table T --output s3://bucket/datasets --kind all
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_twin.errors import InvalidInputError
from llm_twin.llm.ports import ChatModel
from llm_twin.warehouse.records import Document
from training.datasets.card import make_card
from training.datasets.extracts import Extract, ExtractConfig, count_words, extract_documents
from training.datasets.generation import GeneratedInstruction, GenerationStats, Generator
from training.datasets.quality import (
    NEAR_DUPLICATE_THRESHOLD,
    exact_dedupe,
    looks_english,
    near_dedupe,
    similarity,
    split_documents,
    text_hash,
)
from training.datasets.schema import (
    KINDS,
    InstructionSample,
    Kind,
    PreferenceSample,
    Provenance,
)
from training.datasets.store import DatasetVersion, save_dataset_version

Progress = Callable[[int, int], None]
KIND_CHOICES = ("instruct", "preference", "all")


class BuildConfig(BaseModel):
    """Every knob of a build; all of them are recorded in the card's ``parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[Kind, ...] = KINDS
    extracts: ExtractConfig = Field(default_factory=ExtractConfig)
    limit: int | None = Field(None, ge=1, description="At most this many extracts go to the LLM.")
    test_ratio: float = Field(0.15, ge=0.0, lt=1.0, description="Share of documents in the test split.")
    split_seed: str = Field("split", min_length=1)
    near_duplicate_threshold: float = Field(NEAR_DUPLICATE_THRESHOLD, gt=0.0, le=1.0)
    instruction_max_tokens: int = Field(64, ge=8, le=1024)
    draft_max_tokens: int = Field(384, ge=8, le=4096, description="Cap of a draft (rejected) answer.")
    draft_tokens_per_word: float = Field(
        1.5, gt=0, description="A draft may use this many tokens per word of the chosen text (capped)."
    )
    max_attempts: int = Field(2, ge=1, le=5, description="LLM attempts per item (retries + 1).")
    retry_backoff_s: float = Field(
        1.0, ge=0.0, le=60.0, description="Sleep x attempt after a transient error."
    )
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0)
    concurrency: int = Field(1, ge=1, le=32, description="Items generated in parallel (Bedrock: 4-8).")
    min_draft_words: int = Field(20, ge=1, description="Shorter drafts do not make a preference pair.")
    max_draft_similarity: float = Field(
        0.5, gt=0.0, le=1.0, description="Drop pairs whose rejected text is this similar to the chosen."
    )
    system: str | None = Field(None, description="System prompt stored on every row (None: the default).")

    def flat(self) -> dict[str, float | int | str | bool | None]:
        out: dict[str, float | int | str | bool | None] = {}
        for key, value in self.model_dump(mode="json").items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            elif isinstance(value, list):
                out[key] = ",".join(str(v) for v in value)
            else:
                out[key] = value
        return out


@dataclass
class BuildReport:
    source_documents: int
    extracts_available: int
    extracts_used: int
    filters: dict[str, int]
    stats: GenerationStats
    generator_model: str
    versions: dict[str, DatasetVersion] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # kind → why nothing was written
    seconds: float = 0.0
    generation_seconds: float = 0.0

    @property
    def items_per_s(self) -> float:
        return self.extracts_used / self.generation_seconds if self.generation_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "source_documents": self.source_documents,
            "extracts_available": self.extracts_available,
            "extracts_used": self.extracts_used,
            "generator_model": self.generator_model,
            "filters": dict(sorted(self.filters.items())),
            "errors": dict(sorted(self.stats.errors.items())),
            "instructions": dict(sorted(self.stats.outcomes.items())),
            "llm_calls": self.stats.calls,  # every call, the failed ones included
            "llm_failed_calls": self.stats.failed_calls,
            "seconds": round(self.seconds, 2),
            "generation_seconds": round(self.generation_seconds, 2),
            "items_per_s": round(self.items_per_s, 4),
            "datasets": {
                kind: {"version": v.version, "uri": v.uri, "counts": v.card.counts, "filters": v.card.filters}
                for kind, v in self.versions.items()
            },
            "skipped": self.skipped,
        }


def _add(counter: dict[str, int], name: str, n: int) -> None:
    if n:
        counter[name] = counter.get(name, 0) + n


def filter_extracts(extracts: Sequence[Extract], threshold: float) -> tuple[list[Extract], dict[str, int]]:
    """Language, exact and near-duplicate filters on the extracts (first in document order wins)."""
    removed: dict[str, int] = {}
    english = [e for e in extracts if e.kind == "code" or looks_english(e.text)]
    _add(removed, "language", len(extracts) - len(english))
    unique, n = exact_dedupe(english, key=lambda e: e.text)
    _add(removed, "exact_duplicate", n)
    distinct, n = near_dedupe(unique, key=lambda e: e.text, threshold=threshold)
    _add(removed, "near_duplicate", n)
    return distinct, removed


def _round_robin(extracts: Sequence[Extract], n: int) -> list[Extract]:
    """Up to ``n`` extracts: each document's first, then each one's second... (documents by id)."""
    queues: dict[str, list[Extract]] = {}
    for extract in sorted(extracts, key=lambda e: e.key):
        queues.setdefault(extract.document.document_id, []).append(extract)
    picked: list[Extract] = []
    depth = 0
    while len(picked) < n and any(len(q) > depth for q in queues.values()):
        for queue in queues.values():
            if len(queue) > depth and len(picked) < n:
                picked.append(queue[depth])
        depth += 1
    return picked


def select_extracts(
    extracts: Sequence[Extract], sides: dict[str, str], limit: int | None, test_ratio: float
) -> list[Extract]:
    """All extracts, or ``limit`` of them spread over documents with the test split's share."""
    if limit is None or limit >= len(extracts):
        return sorted(extracts, key=lambda e: e.key)
    test = [e for e in extracts if sides[e.document.document_id] == "test"]
    train = [e for e in extracts if sides[e.document.document_id] == "train"]
    n_test = min(len(test), max(1, round(limit * test_ratio))) if limit >= 2 and test else 0
    picked = _round_robin(test, n_test) + _round_robin(train, limit - n_test)
    return sorted(picked, key=lambda e: e.key)


def provenance(extract: Extract) -> Provenance:
    d = extract.document
    return Provenance(
        document_id=d.document_id,
        author_id=d.author_id,
        author_name=d.author_name,
        platform=d.platform,
        category=d.category,
        link=d.link,
        title=d.title,
        extract_index=extract.index,
    )


def instruction_row(item: GeneratedInstruction, system: str | None) -> InstructionSample:
    answer = item.extract.text
    return InstructionSample(
        id=text_hash(item.instruction, answer),
        instruction=item.instruction,
        answer=answer,
        answer_source="author",
        system=system,
        provenance=provenance(item.extract),
    )


def preference_row(
    item: GeneratedInstruction, draft: str | None, config: BuildConfig, removed: dict[str, int]
) -> PreferenceSample | None:
    """The DPO triple, or None (counted in ``removed``) when the draft fails a filter."""
    if draft is None:
        return None  # counted as draft.failed by the generator
    chosen = item.extract.text
    if count_words(draft) < config.min_draft_words:
        _add(removed, "rejected_too_short", 1)
        return None
    if not looks_english(draft):
        _add(removed, "rejected_language", 1)
        return None
    if similarity(draft, chosen) >= config.max_draft_similarity:
        _add(removed, "rejected_similar_to_chosen", 1)
        return None
    return PreferenceSample(
        id=text_hash(item.instruction, chosen),
        prompt=item.instruction,
        chosen=chosen,
        rejected=draft,
        system=config.system,
        provenance=provenance(item.extract),
    )


def _generate(
    generator: Generator,
    extracts: Sequence[Extract],
    config: BuildConfig,
    progress: Progress | None,
) -> list[tuple[GeneratedInstruction, str | None]]:
    want_drafts = "preference" in config.kinds
    lock = threading.Lock()
    done = 0

    def one(extract: Extract) -> tuple[GeneratedInstruction, str | None]:
        nonlocal done
        item = generator.instruction(extract)
        draft = None
        if want_drafts:
            budget = math.ceil(extract.words * config.draft_tokens_per_word)
            draft = generator.draft(item.instruction, max_tokens=budget)
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(extracts))
        return item, draft

    if config.concurrency == 1:
        return [one(e) for e in extracts]
    with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="dataset") as pool:
        return list(pool.map(one, extracts))  # map keeps the input order


def _split_rows(rows: Iterable[Any], sides: dict[str, str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"train": [], "test": []}
    for row in sorted(rows, key=lambda r: (r.provenance.document_id, r.provenance.extract_index)):
        out[sides[row.provenance.document_id]].append(row)
    return out


def build_datasets(
    documents: Sequence[Document],
    chat_model: ChatModel,
    root: str | Path,
    config: BuildConfig | None = None,
    *,
    s3_client: Any = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Build and store the requested kinds; per-item failures are counted, never raised."""
    config = config or BuildConfig()
    started = time.perf_counter()
    report_x = extract_documents(documents, config.extracts)
    filters: dict[str, int] = dict(report_x.skipped)
    kept, removed = filter_extracts(report_x.extracts, config.near_duplicate_threshold)
    for name, n in removed.items():
        _add(filters, name, n)
    sides = split_documents({e.document.document_id for e in kept}, config.test_ratio, config.split_seed)
    chosen = select_extracts(kept, sides, config.limit, config.test_ratio)

    stats = GenerationStats()
    generator = Generator(
        chat_model,
        instruction_max_tokens=config.instruction_max_tokens,
        draft_max_tokens=config.draft_max_tokens,
        max_attempts=config.max_attempts,
        repetition_penalty=config.repetition_penalty,
        stats=stats,
        sleep=config.retry_backoff_s,
    )
    generation_started = time.perf_counter()
    generated = _generate(generator, chosen, config, progress)
    generation_seconds = time.perf_counter() - generation_started

    report = BuildReport(
        source_documents=len(documents),
        extracts_available=len(kept),
        extracts_used=len(chosen),
        filters=filters,
        stats=stats,
        generator_model=generator.model_name,
        generation_seconds=generation_seconds,
    )
    parameters = {
        **config.flat(),
        "extracts_available": len(kept),
        "instructions_llm": stats.outcomes.get("llm", 0),
        "instructions_repaired": stats.outcomes.get("repaired", 0),
        "instructions_fallback": stats.outcomes.get("fallback", 0),
        "generation_seconds": round(generation_seconds, 2),
    }
    for kind in config.kinds:
        kind_filters = dict(filters)
        if kind == "instruct":
            rows: list[Any] = [instruction_row(item, config.system) for item, _ in generated]
            errors = {k: v for k, v in stats.errors.items() if k.startswith("instruction.")}
        else:
            rows = [
                row
                for item, draft in generated
                if (row := preference_row(item, draft, config, kind_filters)) is not None
            ]
            errors = dict(stats.errors)
        rows, n = exact_dedupe(rows, key=lambda r: r.id)
        _add(kind_filters, "exact_duplicate", n)
        if not rows:
            report.skipped[kind] = "no rows survived generation and filters"
            continue
        by_split = _split_rows(rows, sides)
        used_sides = {side: {r.provenance.document_id for r in by_split[side]} for side in by_split}
        card = make_card(
            kind,
            by_split,
            version="",
            generator_model=generator.model_name,
            source_documents=len(documents),
            extracts=len(chosen),
            filters=kind_filters,
            errors=errors,
            split={
                "by": "document",
                "test_ratio": config.test_ratio,
                "seed": config.split_seed,
                "train_documents": len(used_sides["train"]),
                "test_documents": len(used_sides["test"]),
            },
            parameters=parameters,
        )
        report.versions[kind] = save_dataset_version(root, kind, by_split, card, client=s3_client)
    report.seconds = time.perf_counter() - started
    return report


# --- reading the warehouse ------------------------------------------------------------------------
def load_documents(warehouse: Any, author: str | None = None) -> list[Document]:
    """Every document, or one author's (full name or id; an unknown author is an input error)."""
    if author is None:
        return warehouse.list_documents()
    from llm_twin.rag.self_query import resolve_author

    found = resolve_author(author, warehouse.list_authors())
    if found is None:
        raise InvalidInputError(f"no author named {author!r} in the warehouse")
    return warehouse.list_documents(found.author_id)


# --- the command line (shared with ``llm-twin dataset build``) -------------------------------------
def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=KIND_CHOICES, default="all", help="which dataset (default: all)")
    parser.add_argument("--author", help="only this author's documents (full name)")
    parser.add_argument(
        "--limit", type=int, help="at most N extracts go to the LLM (round-robin over documents)"
    )
    parser.add_argument("--test-ratio", type=float, default=0.15, help="share of documents in test (0.15)")
    parser.add_argument("--min-words", type=int, default=120, help="shortest extract of an article (120)")
    parser.add_argument("--max-words", type=int, default=400, help="longest extract (400)")
    parser.add_argument("--include-code", action="store_true", help="repository code files as extracts")
    parser.add_argument("--instruction-max-tokens", type=int, default=64)
    parser.add_argument("--draft-max-tokens", type=int, default=384, help="cap of a rejected draft (384)")
    parser.add_argument("--min-draft-words", type=int, default=20)
    parser.add_argument("--max-attempts", type=int, default=2, help="LLM attempts per item (2)")
    parser.add_argument("--concurrency", type=int, default=1, help="parallel LLM calls (1; Bedrock: 4-8)")
    parser.add_argument("--json", action="store_true", help="print the build report as JSON")


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    kinds: tuple[Kind, ...] = KINDS if args.kind == "all" else (args.kind,)
    return BuildConfig(
        kinds=kinds,
        extracts=ExtractConfig(
            min_words=args.min_words,
            max_words=args.max_words,
            post_min_words=min(25, args.max_words),
            include_code=args.include_code,
        ),
        limit=args.limit,
        test_ratio=args.test_ratio,
        instruction_max_tokens=args.instruction_max_tokens,
        draft_max_tokens=args.draft_max_tokens,
        min_draft_words=args.min_draft_words,
        max_attempts=args.max_attempts,
        concurrency=args.concurrency,
    )


def print_report(report: BuildReport, as_json: bool) -> None:
    summary = report.summary()
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    print(
        f"{report.source_documents} documents → {report.extracts_available} extracts "
        f"({report.extracts_used} sent to {report.generator_model}, {report.items_per_s:.2f} items/s)"
    )
    if report.filters:
        print("filtered: " + ", ".join(f"{k} {v}" for k, v in sorted(report.filters.items())))
    outcomes = report.stats.outcomes
    print(
        f"instructions: {outcomes.get('llm', 0)} from the LLM, {outcomes.get('repaired', 0)} repaired, "
        f"{outcomes.get('fallback', 0)} rule-based fallback"
    )
    if report.stats.errors:
        print("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(report.stats.errors.items())))
    for kind, version in report.versions.items():
        counts = version.card.counts
        print(f"{kind}: {counts.get('train', 0)} train / {counts.get('test', 0)} test rows → {version.uri}")
    for kind, reason in report.skipped.items():
        print(f"{kind}: nothing written ({reason})")


def main(argv: Sequence[str] | None = None) -> int:
    """The SageMaker Processing job: read the warehouse table, write the datasets to ``--output``."""
    parser = argparse.ArgumentParser(prog="python -m training.datasets.build", description=__doc__)
    parser.add_argument("--warehouse-table", help="DynamoDB warehouse table (default: $LLM_TWIN_TABLE_NAME)")
    parser.add_argument("--output", required=True, help="dataset root: s3://bucket/prefix or a folder")
    parser.add_argument(
        "--llm", choices=["bedrock", "lmi-sagemaker", "lmi-local"], help="generator (default: $LLM_TWIN_LLM)"
    )
    add_build_arguments(parser)
    args = parser.parse_args(argv)

    from llm_twin.llm.lmi import make_chat_model
    from llm_twin.settings import Settings
    from llm_twin.warehouse.repository import Warehouse

    updates: dict[str, Any] = {}
    if args.warehouse_table:
        updates["table_name"] = args.warehouse_table
    if args.llm:
        updates["llm"] = args.llm
    settings = Settings().model_copy(update=updates)
    documents = load_documents(Warehouse(settings), args.author)
    if not documents:
        print("no documents in the warehouse", file=sys.stderr)
        return 1
    s3_client = None
    if str(args.output).startswith("s3://"):
        from llm_twin.local.clients import aws_client

        s3_client = aws_client("s3", settings)
    report = build_datasets(
        documents, make_chat_model(settings), args.output, config_from_args(args), s3_client=s3_client
    )
    print_report(report, args.json)
    return 1 if report.skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
