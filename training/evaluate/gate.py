"""The gate: approve a candidate only when it beats the current model by the configured margins.

Pure: metrics in, decision out. The reference is the currently approved model's metrics when known,
else the base model's ("no current model → compare with base"). For every gated metric the candidate
must improve on the reference by at least its margin (``higher`` metrics: candidate - reference ≥
margin; ``lower`` ones, e.g. the stylometry distance: reference - candidate ≥ margin; a margin of 0 means
"not worse", a negative one tolerates a small loss). A metric missing on either side fails the gate, and
so does a judge that could not score most answers (``max_judge_failure_rate``): no verdict, no approval.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_twin.errors import InvalidInputError

GATE_CONFIG_ENV = "LLM_TWIN_EVAL_GATE"
Direction = Literal["higher", "lower"]
DIRECTIONS: dict[str, Direction] = {
    "judge_accuracy": "higher",
    "judge_style": "higher",
    "style_similarity": "higher",
    "stylometry_distance": "lower",
}


class GateConfig(BaseModel):
    """Margins per metric (None: not gated). Validated: unknown keys and metric names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    margins: dict[str, float | None] = Field(
        default_factory=lambda: {
            "judge_accuracy": 0.1,
            "judge_style": 0.0,
            "style_similarity": 0.01,
            "stylometry_distance": None,
        }
    )
    max_judge_failure_rate: float = Field(0.5, ge=0.0, le=1.0)
    min_rows: int = Field(1, ge=1, description="Fewer evaluated test rows than this: not passed.")

    def model_post_init(self, context: object) -> None:
        unknown = sorted(set(self.margins) - set(DIRECTIONS))
        if unknown:
            raise ValueError(f"unknown gated metrics {unknown}; known: {sorted(DIRECTIONS)}")
        if all(v is None for v in self.margins.values()):
            raise ValueError("at least one metric must be gated")


def parse_gate_config(raw: str | Mapping[str, object] | None) -> GateConfig:
    """A GateConfig from JSON text or a mapping (None: the defaults); errors are InvalidInputError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return GateConfig()
    try:
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return GateConfig.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise InvalidInputError(f"invalid gate config: {exc}") from exc


def gate_config_from_env(environ: Mapping[str, str] | None = None) -> GateConfig:
    return parse_gate_config((environ if environ is not None else os.environ).get(GATE_CONFIG_ENV))


class Comparison(BaseModel):
    metric: str
    direction: Direction
    candidate: float | None
    reference: float | None
    margin: float
    improvement: float | None
    ok: bool


class GateDecision(BaseModel):
    passed: bool
    reason: str
    candidate: str
    reference: str
    comparisons: list[Comparison]


_LOWER = ", lower is better"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def decide(
    candidate: Mapping[str, float | None],
    current: Mapping[str, float | None] | None,
    base: Mapping[str, float | None] | None,
    config: GateConfig,
    *,
    candidate_name: str = "candidate",
) -> GateDecision:
    """The decision for ``candidate``'s metrics against ``current`` (else ``base``).

    Metric mappings hold the gated metric names plus ``rows`` and ``judge_failure_rate``."""
    reference_name, reference = ("current", current) if current is not None else ("base", base)
    if reference is None:
        return GateDecision(
            passed=False,
            reason="no reference model to compare with (neither a current nor a base model)",
            candidate=candidate_name,
            reference="none",
            comparisons=[],
        )
    problems: list[str] = []
    rows = candidate.get("rows") or 0
    if rows < config.min_rows:
        problems.append(f"only {int(rows)} test rows evaluated (min_rows {config.min_rows})")
    failure_rate = candidate.get("judge_failure_rate")
    if failure_rate is not None and failure_rate > config.max_judge_failure_rate:
        problems.append(
            f"the judge could not score {failure_rate:.0%} of the answers "
            f"(max_judge_failure_rate {config.max_judge_failure_rate:.0%})"
        )
    comparisons: list[Comparison] = []
    for metric, margin in config.margins.items():
        if margin is None:
            continue
        direction = DIRECTIONS[metric]
        cand, ref = candidate.get(metric), reference.get(metric)
        if cand is None or ref is None:
            improvement, ok = None, False
        else:
            improvement = cand - ref if direction == "higher" else ref - cand
            ok = improvement >= margin - 1e-9
        comparisons.append(
            Comparison(
                metric=metric,
                direction=direction,
                candidate=cand,
                reference=ref,
                margin=margin,
                improvement=None if improvement is None else round(improvement, 6),
                ok=ok,
            )
        )
    details = "; ".join(
        f"{c.metric} {_fmt(c.candidate)} vs {_fmt(c.reference)} "
        + (
            "(missing)"
            if c.improvement is None
            else f"({'+' if c.improvement >= 0 else ''}{c.improvement:.3f} "
            f"{'>=' if c.ok else '<'} margin {c.margin:+.3f}{_LOWER if c.direction == 'lower' else ''})"
        )
        for c in comparisons
    )
    failed = [c.metric for c in comparisons if not c.ok]
    passed = not problems and not failed
    head = f"{candidate_name} vs {reference_name} model: "
    if passed:
        reason = head + f"passed: {details}"
    else:
        what = problems + ([f"not better by the margin on {', '.join(failed)}"] if failed else [])
        reason = head + "not passed: " + "; ".join(what) + (f". {details}" if details else "")
    return GateDecision(
        passed=passed,
        reason=reason,
        candidate=candidate_name,
        reference=reference_name,
        comparisons=comparisons,
    )
