"""The whole build with a scripted LLM: filters, split without leakage, cards that match the files,
per-item failures counted while the batch survives, limits, determinism, and the Processing entry point."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import TransientLlmError
from llm_twin.llm.ports import ChatMessage
from tests.datasets.factories import ScriptedChatModel, document, prose
from training.datasets.build import BuildConfig, build_datasets, select_extracts
from training.datasets.extracts import ExtractConfig, extract_documents
from training.datasets.quality import similarity, split_documents
from training.datasets.schema import InstructionSample, PreferenceSample
from training.datasets.store import load_dataset_version

GERMAN = (
    "Der Hund läuft schnell über die Straße, weil er die Katze gesehen hat und sie jagen will. "
    "Es ist ein schöner Tag, und alle Kinder spielen draußen im Garten hinter dem Haus."
)


def corpus() -> list:
    docs = [document(f"doc-{i}", prose(f"doc-{i}", 700)) for i in range(10)]  # 2-3 extracts each
    docs.append(document("copy-of-doc-0", docs[0].content))  # exact duplicate text
    words = docs[1].content.split(" ")
    docs.append(document("edit-of-doc-1", " ".join([*words[:200], "tiny", "edit", *words[200:]])))
    docs.append(document("german", "\n\n".join([GERMAN] * 4)))
    docs.append(
        document(
            "post-echo",
            prose("echo", 60),
            category=Category.POST,
            platform=Platform.LINKEDIN,
            title="A post whose draft copies it",
        )
    )
    return docs


def _passage(messages: Sequence[ChatMessage]) -> str:
    return messages[3].content  # system, example, example reply, the passage


def _title(messages: Sequence[ChatMessage]) -> str:
    return re.search(r'", "(.*?)"\)|\(\w+, "(.*?)"\)', _passage(messages)).group(2)  # type: ignore[union-attr]


def instruction_reply(messages: Sequence[ChatMessage]) -> str:
    """A mix of clean, wrapped, garbage and failing replies, decided by the passage (so concurrency
    cannot change which extract gets which reply)."""
    passage = _passage(messages)
    title = _title(messages)
    bucket = sum(map(ord, passage)) % 4
    if bucket == 0:
        return json.dumps({"instruction": f"Write about {title} for the blog."})
    if bucket == 1:
        return f'Sure! ```json\n{{"instruction": "Explain {title} to a new colleague.",}}\n```'
    if bucket == 2:
        return "I am not sure what you mean."  # garbage every time → fallback
    raise TransientLlmError("throttled")  # every time → fallback


def draft_reply(texts: dict[str, str]) -> object:
    def reply(messages: Sequence[ChatMessage]) -> str:
        instruction = messages[-1].content
        if "whose draft copies it" in instruction:
            return texts["post-echo"]  # the draft equals the author's text → dropped
        if "Doc 9" in instruction:
            return "Too short."
        if "Doc 8" in instruction:
            return GERMAN
        if "Doc 7" in instruction:
            raise RuntimeError("the endpoint fell over")  # every attempt → draft.failed
        return prose(instruction, 40)

    return reply


def build(tmp_path: Path, **config: object) -> tuple:
    docs = corpus()
    model = ScriptedChatModel(
        [instruction_reply], [draft_reply({d.link.rsplit("/", 1)[1]: d.content for d in docs})]
    )
    settings = {
        "extracts": ExtractConfig(min_words=100, max_words=300),
        "test_ratio": 0.2,
        "retry_backoff_s": 0.0,
        **config,
    }
    report = build_datasets(docs, model, tmp_path / "datasets", BuildConfig(**settings))  # type: ignore[arg-type]
    return docs, model, report


def test_build_writes_clean_split_datasets_whose_cards_match_the_files(tmp_path: Path) -> None:
    _docs, _model, report = build(tmp_path)
    root = tmp_path / "datasets"

    # the extract filters ran before any LLM call, once for both kinds
    assert report.filters == {"exact_duplicate": 3 + 2, "near_duplicate": 1, "language": 1}
    assert report.extracts_used == report.extracts_available == 10 * 3 + 1
    outcomes = report.stats.outcomes
    assert outcomes["llm"] + outcomes["repaired"] + outcomes["fallback"] == report.extracts_used
    assert outcomes["fallback"] > 0 and outcomes["repaired"] > 0 and outcomes["llm"] > 0
    errors = report.stats.errors
    assert errors["instruction.fallback"] == outcomes["fallback"]
    assert errors["instruction.llm_error"] > 0 and errors["instruction.malformed_reply"] > 0

    instruct = load_dataset_version(root, "instruct")
    preference = load_dataset_version(root, "preference")
    for version in (instruct, preference):
        folder = root / version.kind / version.version
        lines = {s: (folder / f"{s}.jsonl").read_text().splitlines() for s in ("train", "test")}
        assert version.card.counts == {s: len(v) for s, v in lines.items()}  # card matches the files
        assert version.card.extracts == report.extracts_used
        rows = version.train + version.test
        assert len({r.id for r in rows}) == len(rows)  # no duplicates
        train_docs = {r.provenance.document_id for r in version.train}
        test_docs = {r.provenance.document_id for r in version.test}
        assert train_docs and test_docs and not train_docs & test_docs  # no leakage
        assert version.card.split["train_documents"] == len(train_docs)
        assert version.card.per_author == {"Nell Harrowgate": len(rows)}
        assert sum(version.card.per_category.values()) == len(rows)
        assert version.card.generator_model == "scripted"
        assert version.card.lengths["answer" if version.kind == "instruct" else "chosen"].count == len(rows)

    # instruct: every extract, the author's own words
    assert len(instruct.train) + len(instruct.test) == report.extracts_used
    assert all(isinstance(r, InstructionSample) and r.answer_source == "author" for r in instruct.train)
    texts = [r.answer for r in instruct.train + instruct.test]
    assert all(similarity(a, b) < 0.8 for i, a in enumerate(texts) for b in texts[i + 1 :])
    assert set(instruct.card.errors) == {k for k in errors if k.startswith("instruction.")}

    # preference: the failing, short, foreign and copied drafts were dropped and counted
    pairs = preference.train + preference.test
    assert all(isinstance(p, PreferenceSample) and p.rejected != p.chosen for p in pairs)
    dropped = {k: v for k, v in preference.card.filters.items() if k.startswith("rejected_")}
    assert dropped == {"rejected_too_short": 3, "rejected_language": 3, "rejected_similar_to_chosen": 1}
    assert errors["draft.failed"] == 3
    assert len(pairs) + sum(dropped.values()) + errors["draft.failed"] == report.extracts_used
    prompts = {
        (r.provenance.document_id, r.provenance.extract_index): r.instruction for r in texts_rows(instruct)
    }
    assert all(prompts[(p.provenance.document_id, p.provenance.extract_index)] == p.prompt for p in pairs)
    assert "rejected_too_short" in (root / "preference" / preference.version / "card.md").read_text()


def texts_rows(version: object) -> list:
    return version.train + version.test  # type: ignore[attr-defined]


def test_same_inputs_same_versions_even_in_parallel(tmp_path: Path) -> None:
    _, _, first = build(tmp_path / "a", kinds=("instruct",))
    _, _, second = build(tmp_path / "b", kinds=("instruct",), concurrency=4)
    assert first.versions["instruct"].version == second.versions["instruct"].version
    assert "preference" not in first.versions and not (tmp_path / "a" / "datasets" / "preference").exists()


def test_limit_spreads_over_documents_and_keeps_a_test_share(tmp_path: Path) -> None:
    _docs, model, report = build(tmp_path, limit=5, kinds=("instruct",))
    assert report.extracts_used == 5
    version = load_dataset_version(tmp_path / "datasets", "instruct")
    assert len(version.test) >= 1 and len(version.train) >= 1
    assert len({r.provenance.document_id for r in version.train + version.test}) == 5  # one per document
    assert all(r.provenance.extract_index == 0 for r in version.train + version.test)
    assert len([c for c in model.calls if c[0] == "draft"]) == 0


def test_select_extracts_without_test_documents_and_tiny_limits() -> None:
    docs = [document(f"d{i}", prose(f"d{i}", 300)) for i in range(4)]
    extracts = extract_documents(docs, ExtractConfig(min_words=50, max_words=100)).extracts
    sides = split_documents({d.document_id for d in docs}, 0.3)
    assert len(select_extracts(extracts, sides, 1, 0.3)) == 1
    assert select_extracts(extracts, sides, None, 0.3) == sorted(extracts, key=lambda e: e.key)
    only_train = dict.fromkeys(sides, "train")
    picked = select_extracts(extracts, only_train, 6, 0.3)
    assert len(picked) == 6 and len({e.document.document_id for e in picked}) == 4


def test_nothing_to_write_is_reported_not_raised(tmp_path: Path) -> None:
    docs = [document("d0", prose("d0", 300)), document("d1", prose("d1", 300))]
    model = ScriptedChatModel([TransientLlmError("down")], [RuntimeError("down")])
    report = build_datasets(
        docs,
        model,
        tmp_path,
        BuildConfig(extracts=ExtractConfig(min_words=50), max_attempts=1, retry_backoff_s=0),
    )
    assert report.stats.outcomes["fallback"] == 2  # instructions still exist (rule-based)
    assert set(report.versions) == {"instruct"}
    assert report.skipped == {"preference": "no rows survived generation and filters"}
    assert report.stats.errors["draft.failed"] == 2
    summary = report.summary()  # the build report counts the calls that failed
    assert len(model.calls) == 4 and (summary["llm_calls"], summary["llm_failed_calls"]) == (4, 4)


@pytest.mark.parametrize("kind", ["instruct", "preference"])
def test_rows_are_schema_valid_json_lines(tmp_path: Path, kind: str) -> None:
    build(tmp_path, kinds=(kind,), limit=6)
    version = load_dataset_version(tmp_path / "datasets", kind)  # type: ignore[arg-type]
    model = InstructionSample if kind == "instruct" else PreferenceSample
    for line in (tmp_path / "datasets" / kind / version.version / "train.jsonl").read_text().splitlines():
        model.model_validate_json(line)
