"""report.md and the PNG plots of an evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.evaluate.run import ModelResult

SCORES_PNG = "judge_scores.png"
STYLE_PNG = "style.png"
_TABLE = (
    ("judge accuracy (1-5)", "judge_accuracy"),
    ("judge style (1-5)", "judge_style"),
    ("judged / failed / repaired", None),
    ("style similarity (cosine)", "style_similarity"),
    ("stylometry distance (rel. L1, lower = closer)", "stylometry_distance"),
    ("stylometry distance (rel. L2)", "stylometry_l2"),
    ("answer words (mean)", "answer_words_mean"),
    ("author's answer words (mean)", "reference_words_mean"),
    ("empty answers", "empty_answers"),
    ("generation errors", "generation_errors"),
    ("seconds", "seconds"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_markdown(evaluation: dict[str, Any], results: Sequence[ModelResult], images: Sequence[str]) -> str:
    metrics: dict[str, dict[str, Any]] = evaluation["metrics"]
    names = list(metrics)
    verdict = "**passed**" if evaluation["passed"] else "**not passed**"
    lines = [
        f"# Evaluation{' of run ' + evaluation['run'] if evaluation.get('run') else ''}",
        "",
        f"Gate: {verdict} — {evaluation['reason']}",
        "",
        f"Candidate `{evaluation['candidate']}`, compared with `{evaluation['compared_with']}`. "
        f"Created {evaluation['created_at']}.",
        "",
    ]
    dataset = evaluation.get("dataset", {})
    lines += [
        f"Test split: {dataset.get('path', '?')} (version {dataset.get('version', '?')}), "
        f"{dataset.get('evaluated_rows', '?')} of {dataset.get('test_rows', '?')} rows evaluated.",
        "",
    ]
    judge = evaluation.get("judge", {})
    if judge.get("model"):
        weak = (
            " — a **weak judge** (the local base model): its scores test the pipeline, not the twin"
            if judge.get("weak")
            else ""
        )
        lines += [f"Judge: `{judge['model']}`{weak}.", ""]
    else:
        lines += ["Judge: none (judge metrics not measured).", ""]
    lines += ["## Models", "", "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines.append("| source | " + " | ".join(f"`{evaluation['models'][n]['source']}`" for n in names) + " |")
    for label, key in _TABLE:
        if key is None:
            cells = [
                f"{m.get('judged', 0)} / {m.get('judge_failures', 0)} / {m.get('judge_repaired', 0)}"
                for m in metrics.values()
            ]
        else:
            cells = [_cell(m.get(key)) for m in metrics.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    comparisons = evaluation.get("gate", {}).get("comparisons", [])
    if comparisons:
        lines += ["## Gate", "", "| metric | candidate | reference | improvement | margin | ok |"]
        lines.append("|---|---|---|---|---|---|")
        for c in comparisons:
            lines.append(
                f"| {c['metric']} ({c['direction']} is better) | {_cell(c['candidate'])} | "
                f"{_cell(c['reference'])} | {_cell(c['improvement'])} | {c['margin']:+.3f} | "
                f"{'yes' if c['ok'] else 'no'} |"
            )
        lines.append("")
    stylometry = evaluation.get("stylometry")
    if isinstance(stylometry, dict) and stylometry:
        columns = list(stylometry)
        features = list(next(iter(stylometry.values())))
        lines += ["## Stylometry profiles", "", "| feature | " + " | ".join(columns) + " |"]
        lines.append("|---|" + "---|" * len(columns))
        for feature in features:
            cells = " | ".join(_cell(stylometry[c].get(feature)) for c in columns)
            lines.append(f"| {feature} | {cells} |")
        lines.append("")
    retrieval = evaluation.get("retrieval", {})
    lines += ["## Retrieval", ""]
    if retrieval.get("skipped"):
        lines += [f"Skipped: {retrieval['skipped']}", ""]
    else:
        k = retrieval.get("k")
        lines += [
            f"{retrieval.get('questions')} labeled questions, top {k}, author filter "
            f"`{retrieval.get('author_id')}`: hit@1 {_cell(retrieval.get('hit_at_1'))}, "
            f"hit@{k} {_cell(retrieval.get(f'hit_at_{k}'))}, MRR {_cell(retrieval.get('mrr'))}, "
            f"author-filter precision {_cell(retrieval.get('author_filter_precision'))}.",
            "",
        ]
    if images:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in images] + [""]
    lines += ["## Examples", ""]
    for result in results:
        for sample in result.samples[:2]:
            lines += [
                f"**{result.name}** — {sample['instruction']}",
                "",
                "> " + (sample["answer"] or "(empty)").replace("\n", "\n> "),
                "",
                f"accuracy {_cell(sample['accuracy'])}, style {_cell(sample['style'])}, similarity "
                f"{_cell(sample['similarity'])}"
                + (f" — {sample['justification']}" if sample.get("justification") else "")
                + (f" — judge failed: {sample['judge_error']}" if sample.get("judge_error") else ""),
                "",
            ]
    if evaluation.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in evaluation["notes"]] + [""]
    return "\n".join(lines)


def write_plots(evaluation: dict[str, Any], output: Path) -> list[Path]:
    """Grouped bars: judge accuracy/style per model; style similarity and stylometry distance per model."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    metrics: dict[str, dict[str, Any]] = evaluation["metrics"]
    names = list(metrics)
    written = []

    def bars(ax: Any, keys: Sequence[tuple[str, str]], ylabel: str, ylim: tuple[float, float] | None) -> None:
        width = 0.8 / max(len(keys), 1)
        for j, (key, label) in enumerate(keys):
            values = [metrics[n].get(key) or 0.0 for n in names]
            positions = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(names))]
            drawn = ax.bar(positions, values, width, label=label)
            ax.bar_label(drawn, labels=[_cell(metrics[n].get(key)) for n in names], fontsize=7)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel(ylabel)
        if ylim:
            ax.set_ylim(*ylim)
        ax.legend(fontsize=8)

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    bars(ax, [("judge_accuracy", "accuracy"), ("judge_style", "style")], "judge score (1-5)", (0, 5.5))
    ax.set_title("LLM-as-judge vs the author's answers")
    fig.tight_layout()
    path = output / SCORES_PNG
    fig.savefig(path)
    plt.close(fig)
    written.append(path)

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5), dpi=100)
    bars(left, [("style_similarity", "MiniLM cosine")], "similarity (higher = closer)", (0, 1.05))
    distances = [("stylometry_distance", "rel. L1"), ("stylometry_l2", "rel. L2")]
    bars(right, distances, "distance (lower = closer)", None)
    fig.suptitle("Style without a judge")
    fig.tight_layout()
    path = output / STYLE_PNG
    fig.savefig(path)
    plt.close(fig)
    written.append(path)
    return written
