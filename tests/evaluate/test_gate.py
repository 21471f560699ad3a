"""The gate decision on crafted metrics, and its config validation."""

from __future__ import annotations

import pytest

from llm_twin.errors import InvalidInputError
from training.evaluate.gate import GateConfig, decide, gate_config_from_env, parse_gate_config

BASE = {
    "rows": 10,
    "judge_accuracy": 2.0,
    "judge_style": 2.0,
    "style_similarity": 0.40,
    "stylometry_distance": 0.5,
}
CURRENT = {**BASE, "judge_accuracy": 3.0, "judge_style": 3.0, "style_similarity": 0.60}
CONFIG = GateConfig()  # accuracy +0.1, style +0.0, similarity +0.01, stylometry not gated


def test_better_than_current_by_the_margins_passes() -> None:
    candidate = {**CURRENT, "judge_accuracy": 3.2, "style_similarity": 0.62, "judge_failure_rate": 0.0}
    decision = decide(candidate, CURRENT, BASE, CONFIG, candidate_name="dpo")
    assert decision.passed and decision.reference == "current"
    assert decision.reason.startswith("dpo vs current model: passed")
    assert [c.metric for c in decision.comparisons] == ["judge_accuracy", "judge_style", "style_similarity"]


def test_a_gain_below_the_margin_fails_with_the_metric_named() -> None:
    candidate = {**CURRENT, "judge_accuracy": 3.05, "style_similarity": 0.7}
    decision = decide(candidate, CURRENT, BASE, CONFIG, candidate_name="dpo")
    assert not decision.passed
    assert "not better by the margin on judge_accuracy" in decision.reason
    assert "judge_accuracy 3.050 vs 3.000 (+0.050 < margin +0.100)" in decision.reason


def test_no_current_model_compares_with_base() -> None:
    candidate = {**BASE, "judge_accuracy": 2.5, "style_similarity": 0.45}
    decision = decide(candidate, None, BASE, CONFIG)
    assert decision.passed and decision.reference == "base"
    assert not decide(candidate, CURRENT, BASE, CONFIG).passed  # the same model loses to the current one


def test_lower_is_better_metrics_and_negative_margins() -> None:
    config = GateConfig(margins={"stylometry_distance": 0.05, "style_similarity": -0.02})
    ok = {**BASE, "stylometry_distance": 0.4, "style_similarity": 0.39}
    assert decide(ok, None, BASE, config).passed  # 0.1 closer; similarity 0.01 lower, within -0.02
    worse = {**ok, "stylometry_distance": 0.48}
    decision = decide(worse, None, BASE, config)
    assert not decision.passed and "lower is better" in decision.reason


def test_missing_metrics_judge_failures_and_too_few_rows_fail() -> None:
    missing = {**BASE, "judge_accuracy": None, "style_similarity": 0.9}
    decision = decide(missing, None, BASE, CONFIG)
    assert not decision.passed and "judge_accuracy n/a vs 2.000 (missing)" in decision.reason
    unjudged = {**BASE, "judge_accuracy": 5.0, "style_similarity": 0.9, "judge_failure_rate": 0.8}
    decision = decide(unjudged, None, BASE, CONFIG)
    assert not decision.passed and "could not score 80% of the answers" in decision.reason
    empty = {**BASE, "rows": 0, "judge_accuracy": 5.0, "style_similarity": 0.9}
    assert "only 0 test rows" in decide(empty, None, BASE, CONFIG).reason
    assert decide(BASE, None, None, CONFIG).reason.startswith("no reference model")


def test_config_is_validated() -> None:
    assert parse_gate_config(None) == GateConfig()
    assert parse_gate_config('{"margins": {"judge_accuracy": 0.5}}').margins == {"judge_accuracy": 0.5}
    for bad in (
        '{"margins": {"judge_acuracy": 0.1}}',
        '{"margins": {"judge_accuracy": null}}',
        '{"max_judge_failure_rate": 2}',
        '{"margin": {}}',
        "not json",
    ):
        with pytest.raises(InvalidInputError, match="invalid gate config"):
            parse_gate_config(bad)
    assert gate_config_from_env({"LLM_TWIN_EVAL_GATE": '{"min_rows": 5}'}).min_rows == 5
