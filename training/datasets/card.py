"""The dataset card: statistics of a version's rows (card.json) and their markdown rendering (card.md)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from training.datasets.extracts import count_words
from training.datasets.schema import DatasetCard, InstructionSample, Kind, LengthStats, PreferenceSample

Row = InstructionSample | PreferenceSample
FIELDS: dict[str, tuple[str, ...]] = {
    "instruct": ("instruction", "answer"),
    "preference": ("prompt", "chosen", "rejected"),
}


def _percentile(values: Sequence[int], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def length_stats(texts: Sequence[str]) -> LengthStats:
    words = [count_words(t) for t in texts]
    if not words:
        return LengthStats(count=0, mean_words=0.0, p50_words=0.0, p95_words=0.0, max_words=0)
    return LengthStats(
        count=len(words),
        mean_words=round(statistics.fmean(words), 1),
        p50_words=round(_percentile(words, 0.5), 1),
        p95_words=round(_percentile(words, 0.95), 1),
        max_words=max(words),
    )


def make_card(
    kind: Kind,
    rows: Mapping[str, Sequence[Row]],
    *,
    version: str,
    generator_model: str,
    source_documents: int,
    extracts: int,
    filters: Mapping[str, int],
    errors: Mapping[str, int],
    split: Mapping[str, float | int | str],
    parameters: Mapping[str, float | int | str | bool | None],
    created_at: datetime | None = None,
) -> DatasetCard:
    every = [row for split_rows in rows.values() for row in split_rows]
    return DatasetCard(
        kind=kind,
        version=version,
        created_at=created_at or datetime.now(UTC),
        generator_model=generator_model,
        source_documents=source_documents,
        extracts=extracts,
        counts={name: len(split_rows) for name, split_rows in rows.items()},
        per_author=dict(sorted(Counter(r.provenance.author_name for r in every).items())),
        per_category=dict(sorted(Counter(str(r.provenance.category) for r in every).items())),
        lengths={name: length_stats([getattr(r, name) for r in every]) for name in FIELDS[kind]},
        filters=dict(sorted(filters.items())),
        errors=dict(sorted(errors.items())),
        split=dict(split),
        parameters=dict(sorted(parameters.items())),
    )


def _table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render_card(card: DatasetCard) -> str:
    """card.md: the card for people (card.json is the machine-readable truth)."""
    out = [
        f"# Dataset `{card.kind}` version `{card.version}`",
        "",
        f"Created {card.created_at.isoformat(timespec='seconds')} with generator `{card.generator_model}` "
        f"from {card.source_documents} source documents and {card.extracts} extracts.",
        "",
        "## Rows",
        "",
        *_table([(k, v) for k, v in card.counts.items()], ["split", "rows"]),
        "",
        "## Per author",
        "",
        *_table(list(card.per_author.items()), ["author", "rows"]),
        "",
        "## Per category",
        "",
        *_table(list(card.per_category.items()), ["category", "rows"]),
        "",
        "## Lengths (words)",
        "",
        *_table(
            [
                (k, s.count, s.mean_words, s.p50_words, s.p95_words, s.max_words)
                for k, s in card.lengths.items()
            ],
            ["field", "count", "mean", "p50", "p95", "max"],
        ),
        "",
        "## Filters (items removed)",
        "",
        *(_table(list(card.filters.items()), ["filter", "removed"]) if card.filters else ["none"]),
        "",
        "## Generation errors",
        "",
        *(_table(list(card.errors.items()), ["reason", "count"]) if card.errors else ["none"]),
        "",
        "## Split",
        "",
        *_table(list(card.split.items()), ["key", "value"]),
        "",
        "## Parameters",
        "",
        *_table(list(card.parameters.items()), ["parameter", "value"]),
        "",
    ]
    return "\n".join(out)
