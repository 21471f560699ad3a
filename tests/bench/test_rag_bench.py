"""The helpers of bench/rag.py: the LLM stand-in's replies parse, timers are exclusive, the scans work."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.rag import (
    BEFORE,
    DEPLOYED,
    InstantChatModel,
    StageTimers,
    _import_findings,
    _import_section,
    _package_findings,
    _package_section,
    forbidden_in,
    import_chains,
    load_questions,
    median_importtime,
    parse_importtime,
    percentile,
    self_by_package,
    top_imports,
)
from llm_twin.llm.ports import ChatMessage
from llm_twin.rag import prompts
from llm_twin.rag.expansion import parse_alternatives
from llm_twin.rag.parsing import first_json
from llm_twin.rag.self_query import coerce_filters
from tests.rag.fakes import Directory


def test_stand_in_answers_every_prompt_kind_with_a_valid_reply() -> None:
    model = InstantChatModel()
    authors = Directory("Nell Harrowgate").list_authors()
    for question in load_questions():
        reply = model.generate(prompts.self_query_messages(question, ["Nell Harrowgate"], datetime.now(UTC)))
        filters, repaired = coerce_filters(first_json(reply.text), authors)
        assert filters.author == "Nell Harrowgate" and not repaired
        rewrites = model.generate(prompts.expansion_messages(question, 3)).text
        assert len(parse_alternatives(rewrites, question, 3)) == 3
    answer = model.generate(prompts.answer_messages("q", "[1] t — l\ntext", "Nell Harrowgate"))
    assert "[1]" in answer.text and answer.prompt_tokens and answer.completion_tokens
    assert model.calls == {"self_query": 36, "expansion": 36, "answer": 1}


def test_stand_in_refuses_unknown_prompts() -> None:
    with pytest.raises(ValueError, match="unknown prompt"):
        InstantChatModel().generate(
            [ChatMessage(role="system", content="Hello"), ChatMessage(role="user", content="x")]
        )


class _Work:
    def outer(self) -> None:
        time.sleep(0.02)
        self.inner()

    def inner(self) -> None:
        time.sleep(0.03)


def test_timers_are_exclusive_and_relabel_nested_calls() -> None:
    timers = StageTimers(inside={("outer", "inner"): "inner under outer"})
    timers.wrap(_Work, "outer", "outer")
    timers.wrap(_Work, "inner", "inner")
    try:
        _Work().outer()
        _Work().inner()
    finally:
        timers.restore()
    wall, calls, _, concurrent = timers.take()
    assert calls == {"outer": 1, "inner under outer": 1, "inner": 1} and concurrent == {}
    assert 0.015 < wall["outer"] < 0.028
    assert wall["inner under outer"] >= 0.028 and wall["inner"] >= 0.028
    assert timers.take() == ({}, {}, {}, {})
    assert _Work.__dict__["outer"].__name__ == "outer"  # restored


def test_calls_on_worker_threads_are_summed_apart() -> None:
    from concurrent.futures import ThreadPoolExecutor

    timers = StageTimers()
    timers.wrap(_Work, "outer", "outer")
    timers.wrap(_Work, "inner", "inner")
    try:
        _Work().outer()  # main thread: exclusive times
        with ThreadPoolExecutor(max_workers=2) as pool:  # worker threads: summed, apart
            list(pool.map(lambda _: _Work().inner(), range(2)))
    finally:
        timers.restore()
    wall, calls, _, concurrent = timers.take()
    assert calls == {"outer": 1, "inner": 3}
    assert set(wall) == {"outer", "inner"} and 0.015 < wall["outer"] < 0.028  # the nested inner
    assert concurrent["inner"] >= 2 * 0.028  # two worker calls, summed


def test_percentile_is_nearest_rank() -> None:
    samples = list(range(1, 101))
    assert percentile(samples, 0.5) == 50 and percentile(samples, 0.95) == 95 and percentile([7], 0.95) == 7


def test_importtime_parsing() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |     pydantic.fields",
            "import time:       300 |        400 |   pydantic",
            "import time:        50 |        450 | handler",
        ]
    )
    entries = parse_importtime(stderr)
    assert entries == [("pydantic.fields", 100, 100, 2), ("pydantic", 300, 400, 1), ("handler", 50, 450, 0)]
    assert top_imports(entries, 2) == [("handler", 450, 0), ("pydantic", 400, 1)]
    assert self_by_package(entries) == [("pydantic", 400, 2), ("handler", 50, 1)]


def test_forbidden_scan(tmp_path: Path) -> None:
    paths = (
        "python/torch/__init__.py",
        "python/transformers-5.0.0.dist-info/RECORD",
        "python/sentence_transformers.py",
        "python/torchvision_ok/x.py",
        "python/llm_twin/torch_note.md",
    )
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    assert forbidden_in(tmp_path) == [
        "python/sentence_transformers.py",
        "python/torch",
        "python/transformers-5.0.0.dist-info",
    ]
    assert forbidden_in(tmp_path / "python" / "llm_twin") == []


def test_importtime_median_over_runs() -> None:
    runs = [
        [("a", 10, 30, 1), ("b", 5, 35, 0)],
        [("a", 30, 50, 1), ("b", 1, 51, 0)],
        [("a", 20, 40, 1), ("b", 3, 43, 0)],
    ]
    assert median_importtime(runs) == [("a", 20, 40, 1), ("b", 3, 43, 0)]


def test_import_chains_name_where_packages_enter() -> None:
    entries = [  # -X importtime order: a module after its imports
        ("soupsieve", 5, 5, 5),
        ("bs4", 10, 15, 4),
        ("markdownify", 2, 2, 4),
        ("llm_twin.crawling.extract", 1, 18, 3),
        ("llm_twin.rag.links", 1, 19, 2),
        ("llm_twin.rag.service", 1, 20, 1),
        ("llm_twin.rag.factory", 1, 21, 0),
        ("handler", 1, 1, 0),
    ]
    via = ("llm_twin.rag.factory", "llm_twin.rag.service", "llm_twin.rag.links", "llm_twin.crawling.extract")
    assert import_chains(entries, ("bs4", "soupsieve", "markdownify")) == [
        ((*via, "bs4"), 15),
        ((*via, "markdownify"), 2),
    ]
    assert import_chains(entries, ("lxml",)) == []


def _asset(zipped: int, unzipped: int, pycs: int) -> dict[str, object]:
    return {"zipped": zipped, "unzipped": unzipped, "files": 10, "forbidden": [], "pycs": pycs}


def _package(present: dict[str, int]) -> dict[str, object]:
    return {
        "python312": "/usr/bin/python3.12",
        "layer_build_s": 6.0,
        "layer": _asset(37_900_000, 80_900_000, 1265),
        "layer_plain": _asset(31_900_000, 66_700_000, 0),
        "function": _asset(1_000, 1_000, 0),
        "by_distribution": [("botocore", 23_000_000)],
        "distributions": ["botocore-1.0"],
        "x86_64_distributions": ["botocore-1.0"],
        "no_deps": {"opensearch-py": ["opensearch-protobufs"], "tokenizers": ["huggingface-hub"]},
        "left_out": ["grpcio", "protobuf"],
        "left_out_present": present,
    }


def _imports() -> dict[str, object]:
    def tree(cpu: float) -> dict[str, object]:
        run = {
            "import_ms": cpu,
            "health_ms": 5.0,
            "cpu_ms": cpu,
            "psi": 0.1,
            "modules": 800,
            "watched": ["botocore"],
            "watched_after_rag": ["botocore", "bs4"],
            "status": 200,
            "body": "{}",
            "rag_build_ms": 80.0,
        }
        chain = ("llm_twin.rag.factory", "llm_twin.crawling.extract", "bs4")
        return {
            "runs": [run],
            "python": "3.12",
            "top": [("handler", 300_000, 0)],
            "packages": [("botocore", 40_000, 78)],
            "crawl_only_us": 47_000,
            "crawl_only_loaded": ["bs4"],
            "crawl_only_chains": [(chain, 46_000)],
        }

    return {"trees": {DEPLOYED: tree(300.0), BEFORE: tree(900.0)}}


def test_sections_describe_the_byte_compiled_layer_as_deployed() -> None:
    imports, package = _imports(), _package({})
    section = _import_section(imports) + _package_section(package)
    assert f"| {DEPLOYED} | 3.12 |" in section and f"| {BEFORE} | 3.12 |" in section
    assert "without bytecode (`bytecode=False`) | 10 | 66.7 | 31.9 |" in section
    assert "--no-compile" not in section and "none of grpcio, protobuf is installed" in section
    findings = _import_findings(imports, package) + _package_findings(package, imports)
    assert "saves 600 ms of CPU (67%)" in findings
    assert "when the first `POST /rag` builds the RAG service" in findings
    assert "accounts for 6.0 MB of it" in findings and "none of grpcio, protobuf is in the layer" in findings
    assert "--no-compile" not in findings and "Fix" not in findings


def test_package_findings_flag_left_out_distributions_that_are_installed() -> None:
    package = _package({"grpcio": 7_000_000})
    assert "grpcio (7.0 MB zipped)" in _package_section(package)
    assert "yet grpcio is in the layer (7.0 MB of the zip)" in _package_findings(package, None)
