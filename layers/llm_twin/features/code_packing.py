"""Fitting fenced code into token budgets: definitions packed together, never a fence left open.

``code_groups`` cuts a fenced block's body at its ``code_structure`` segments and packs them into
``(names, lines)`` groups whose re-fenced text fits a budget, as evenly as possible; a segment too big
alone is split into its children (a class's methods), else into runs of whole lines (a line too long
alone by characters). Also here: taking a fenced run apart (``fence_parts``, ``single_fence``) and
putting a group back together (``fenced``), for whole code files and oversized blocks in articles.
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_twin.features.cleaning import fence_closes, fence_language, fence_opening, split_fenced
from llm_twin.features.code_structure import Segment, code_segments
from llm_twin.features.text_packing import Count, hard_split

Group = tuple[list[str], list[str]]  # (segment names, body lines)


def fence_parts(lines: list[str], marker: str) -> tuple[str, list[str], str]:
    """(opening fence line, body lines, closing line) of a fenced run; ``marker`` closes an unclosed one."""
    if len(lines) > 1 and fence_closes(lines[-1], marker):
        return lines[0], lines[1:-1], lines[-1]
    return lines[0], lines[1:], marker


def single_fence(content: str) -> tuple[str, list[str], str] | None:
    """(opening fence line, body lines, closing line) when the content is one fenced block."""
    runs = [(code, run) for code, run in split_fenced(content) if code or any(x.strip() for x in run)]
    if len(runs) != 1 or not runs[0][0]:
        return None
    lines = runs[0][1]
    return fence_parts(lines, fence_opening(lines[0]) or "```")


def fenced(fence: str, lines: list[str], close: str) -> str:
    return "\n".join([fence, *lines, close])


def code_groups(count: Count, fence: str, body: list[str], close: str, budget: int) -> list[Group]:
    """The body's segments (by the fence's language) packed into ``(names, lines)`` groups whose
    fenced text fits ``budget``, as even as possible. A segment too big alone is split into its
    children (a class's methods), else into runs of lines; those parts stay on their own."""
    segments = code_segments(body, fence_language(fence))
    inner = budget - count(f"{fence}\n{close}")
    if inner < 1:
        raise ValueError("max_tokens is too small for a fenced code block")
    groups: list[Group] = []
    run: list[Segment] = []

    def flush() -> None:
        sizes = [count("\n".join(body[seg.start : seg.end])) for seg in run]
        for first, last in _balanced(sizes, inner):
            members = run[first:last]
            lines = body[members[0].start : members[-1].end]
            names = [n for seg in members if seg.definition for n in seg.names]
            names += [n for seg in members if not seg.definition for n in seg.names]
            if count("\n".join(lines)) <= inner:
                groups.append((list(dict.fromkeys(names)), lines))
            else:  # a counter that is not additive over newlines: one segment at a time
                groups.extend((list(seg.names), body[seg.start : seg.end]) for seg in members)
        run.clear()

    for segment in _flatten(count, segments, body, inner):
        lines = body[segment.start : segment.end]
        if count("\n".join(lines)) <= inner:
            run.append(segment)
            continue
        flush()
        groups.extend((list(segment.names), part) for part in _split_lines(count, lines, inner))
    flush()
    return [(names, _trim_blank(lines)) for names, lines in groups if any(x.strip() for x in lines)]


def _flatten(count: Count, segments: Iterable[Segment], body: list[str], inner: int) -> list[Segment]:
    out: list[Segment] = []
    for segment in segments:
        if segment.children and count("\n".join(body[segment.start : segment.end])) > inner:
            out.extend(_flatten(count, segment.children, body, inner))
        else:
            out.append(segment)
    return out


def _split_lines(count: Count, lines: list[str], inner: int) -> list[list[str]]:
    """Runs of whole lines within ``inner`` tokens, as even as possible (a line too long alone is
    cut into pieces by characters)."""
    units: list[str] = []
    for line in lines:
        units.extend([line] if count(line) <= inner else hard_split(line, inner, count))
    parts = [units[a:b] for a, b in _balanced([count(u) for u in units], inner)]
    if all(count("\n".join(part)) <= inner for part in parts):
        return parts
    exact: list[list[str]] = []  # a counter that is not additive over newlines
    for unit in units:
        if exact and count("\n".join([*exact[-1], unit])) <= inner:
            exact[-1].append(unit)
        else:
            exact.append([unit])
    return exact


def _balanced(sizes: list[int], limit: int) -> list[tuple[int, int]]:
    """Contiguous groups ``[first, last)`` of items whose sizes sum within ``limit`` (an item over
    it stands alone): as many groups as greedy packing needs, with the smallest largest group."""

    def greedy(cap: int) -> list[tuple[int, int]]:
        groups: list[tuple[int, int]] = []
        first, total = 0, 0
        for index, size in enumerate(sizes):
            if index > first and total + size > cap:
                groups.append((first, index))
                first, total = index, 0
            total += size
        return [*groups, (first, len(sizes))] if sizes else []

    fewest = greedy(limit)
    if len(fewest) <= 1:
        return fewest
    low, high = max(1, -(-sum(sizes) // len(fewest))), limit
    while low < high:
        middle = (low + high) // 2
        if len(greedy(middle)) <= len(fewest):
            high = middle
        else:
            low = middle + 1
    return greedy(low)


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]
