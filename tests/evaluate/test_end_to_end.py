"""The evaluation end to end on the tiny model: ``python -m training.evaluate``'s contract (arguments as
the workflow passes them, evaluation.json + report in the output folder) and ``llm-twin evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from llm_twin.llm.local_model import base_model_dir
from llm_twin.settings import Settings
from tests.evaluate.conftest import HashEmbedder, ScriptedModel, verdict, workflow_args
from training.evaluate.__main__ import main
from training.evaluate.judge import Judge
from training.finetune.run import RunResult


@pytest.fixture(autouse=True)
def _no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS here: reading the model registry must fail and be reported, not crash."""
    import training.evaluate.__main__ as entry

    def unreachable(group: str, client: object) -> str:
        raise RuntimeError("no credentials")

    monkeypatch.setattr(entry, "approved_model_uri", unreachable)


def test_entry_point_writes_the_contract(
    tiny_model: Path, sft_run: RunResult, dpo_run: RunResult, datasets_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    # Judge calls run model by model, row by row: base x2, sft x2, dpo x2 (fenced/prose replies included).
    replies = [
        verdict(2),
        "```json\n" + verdict(2) + "\n```",
        verdict(3),
        verdict(3),
        verdict(5),
        verdict(4),
    ]
    judge = Judge(ScriptedModel(replies))
    code = main(
        [
            *workflow_args(tiny_model, sft_run, dpo_run, datasets_root, out),
            "--gate",
            '{"margins": {"judge_accuracy": 0.5}}',
        ],
        judge=judge,
        embedder=HashEmbedder(),
        settings=Settings(home=tmp_path / "home"),
    )
    assert code == 0
    raw = (out / "evaluation.json").read_text(encoding="utf-8")
    assert len(raw.encode()) < 200_000
    evaluation = json.loads(raw)
    assert evaluation["passed"] is True
    assert evaluation["reason"].startswith("dpo vs base model: passed")
    assert evaluation["compared_with"] == "base" and evaluation["candidate"] == "dpo"
    assert list(evaluation["metrics"]) == ["base", "sft", "dpo"]
    dpo = evaluation["metrics"]["dpo"]
    assert dpo["rows"] == 2 and dpo["judged"] == 2 and dpo["judge_accuracy"] == 4.5
    assert evaluation["metrics"]["base"]["judge_repaired"] == 1
    assert evaluation["metrics"]["base"]["judge_accuracy"] == 2.0
    for name in ("base", "sft", "dpo"):
        assert 0.0 <= (evaluation["metrics"][name]["style_similarity"] or 0.0) <= 1.0
        assert evaluation["metrics"][name]["stylometry_distance"] >= 0
    assert evaluation["dataset"]["test_rows"] == 2 and evaluation["dataset"]["version"] == "0123456789abcdef"
    assert "no index" in evaluation["retrieval"]["skipped"] or "index" in evaluation["retrieval"]["skipped"]
    assert any("current model of llm-twin-test-twin unknown" in note for note in evaluation["notes"])
    for name in ("report.md", "samples.jsonl", "judge_scores.png", "style.png"):
        assert (out / name).is_file() and name in evaluation["files"]
    assert (out / "judge_scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Gate: **passed**" in report and "| judge accuracy (1-5) | 2.000 | 3.000 | 4.500 |" in report
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and {s["model"] for s in samples} == {"base", "sft", "dpo"}


def test_an_unusable_judge_ends_in_passed_false_not_a_crash(
    tiny_model: Path, sft_run: RunResult, dpo_run: RunResult, datasets_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    code = main(
        [*workflow_args(tiny_model, sft_run, dpo_run, datasets_root, out), "--limit", "1"],
        judge=Judge(ScriptedModel(["I think it is fine."]), max_attempts=2),
        embedder=HashEmbedder(),
        settings=Settings(home=tmp_path / "home"),
    )
    assert code == 0
    evaluation = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation["passed"] is False
    assert "the judge could not score 100% of the answers" in evaluation["reason"]
    assert evaluation["metrics"]["dpo"]["judge_failures"] == 1
    assert evaluation["metrics"]["dpo"]["judge_accuracy"] is None


def test_bad_input_exits_2(tiny_model: Path, sft_run: RunResult, dpo_run: RunResult, tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    missing.mkdir()
    args = workflow_args(tiny_model, sft_run, dpo_run, missing, tmp_path / "out")
    assert main(args, judge=Judge(ScriptedModel(["x"])), embedder=None, settings=Settings(home=tmp_path)) == 2
    bad_gate = [
        *workflow_args(tiny_model, sft_run, dpo_run, tmp_path, tmp_path / "out"),
        "--gate",
        '{"margins": {}}',
    ]
    assert (
        main(bad_gate, judge=Judge(ScriptedModel(["x"])), embedder=None, settings=Settings(home=tmp_path))
        == 2
    )


def test_cli_evaluate(
    tiny_model: Path,
    base_model: Path,
    sft_run: RunResult,
    dpo_run: RunResult,
    datasets_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from llm_twin.cli import evaluate

    home = tmp_path / "home"
    base_model_dir(home).parent.mkdir(parents=True)
    base_model_dir(home).symlink_to(base_model, target_is_directory=True)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")

    def add(name, command, help_text):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(run=command)
        return p

    evaluate.register(add)
    args = parser.parse_args(
        [
            "evaluate",
            "--tiny",
            "--model",
            sft_run.merged_dir,
            "--model",
            dpo_run.merged_dir,
            "--dataset",
            str(datasets_root / "instruct"),
            "--limit",
            "1",
            "--max-new-tokens",
            "4",
            "--no-judge",
            "--json",
        ]
    )
    assert args.run(args, Settings(home=home)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is False and "judge_accuracy n/a" in printed["reason"]
    names = list(printed["metrics"])
    assert names[0] == "base" and len(names) == 3 and printed["candidate"] == names[-1]
    assert printed["metrics"]["base"]["model_name"] == "tiny-smollm2"
    output = Path(printed["output"])
    assert output == Path(dpo_run.output_dir) / "evaluation"  # next to the candidate's run
    assert (output / "evaluation.json").is_file() and (output / "report.md").is_file()
    assert "judge skipped" in " ".join(printed["notes"])
