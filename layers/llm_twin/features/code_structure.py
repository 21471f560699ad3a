"""Finding the top-level definitions of a source file, so code is chunked at their boundaries.

``code_segments`` cuts a code body (the lines inside a fence) into ``Segment`` line ranges, each named:
``ast`` for Python (a def/class with its decorators and comments, a class's methods as children, the
statements between definitions grouped), a column-0 decorator/def regex when Python does not parse,
and blank-line blocks at bracket depth 0 for other languages (named by their declaration, table or
key). It knows nothing of tokens: fitting segments into a budget is ``code_packing``'s job.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "pyi", "sage"})

_PY_BOUNDARY = re.compile(r"^(?:@|(?:async[ \t]+)?def[ \t]|class[ \t])")
_DECLARATION = re.compile(
    r"^(?:(?:export|default|pub(?:\([^)]*\))?|public|private|protected|internal|static|abstract|final"
    r"|async|unsafe|extern|inline|virtual|override|open|sealed|data)\s+)*"
    r"(?:def|class|function\*?|fn|func|interface|struct|enum|trait|impl|type|module|object|namespace"
    r"|const|let|var|val|macro_rules!|resource|variable|output|data|locals|provider)\s+"
    r"(?:\([^)]*\)\s*)?[\"']?([A-Za-z_$][\w$.:<>\"-]*)"
)
_COMMENT = re.compile(r"^#(?!include|import)")
_IMPORT = re.compile(r"^(?:import|from|use|using|package|require|#include|#import)\b")
_TABLE = re.compile(r"^\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^([A-Za-z_.$][\w.$/%-]*)\s*(?::(?!:)|=|\+=|\?=)")


@dataclass(frozen=True)
class Segment:
    """Lines ``[start, end)`` of a code body: one definition, or the statements between them."""

    names: tuple[str, ...]
    start: int
    end: int
    children: tuple[Segment, ...] = ()
    definition: bool = True  # a def/class (or a block), not the statements between them


def code_segments(lines: list[str], language: str) -> list[Segment]:
    """The body's segments in order, covering every line (``language``: the fence's info word)."""
    if language.lower() in PYTHON_LANGUAGES:
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError):
            return _boundary_segments(lines, _python_boundaries(lines))
        return _ast_segments(tree.body, lines, 0, len(lines), "")
    return _boundary_segments(lines, _block_boundaries(lines))


def _ast_segments(nodes: list[ast.stmt], lines: list[str], start: int, end: int, owner: str) -> list[Segment]:
    """Each def/class its own segment (with its decorators and the comments right above it); the
    statements between definitions grouped; the first segment starts at ``start`` (headers)."""
    firsts: list[int] = []
    for index, node in enumerate(nodes):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        floor = max(start, nodes[index - 1].end_lineno or 0) if index else start
        while first - 1 >= floor and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        firsts.append(first)
    if firsts:
        firsts[0] = start
    out: list[Segment] = []
    group: list[str] | None = None  # names of the open statement group, if the last segment is one
    for index, node in enumerate(nodes):
        seg_start, seg_end = firsts[index], firsts[index + 1] if index + 1 < len(nodes) else end
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{owner}.{node.name}" if owner else node.name
            children: tuple[Segment, ...] = ()
            if isinstance(node, ast.ClassDef):
                children = tuple(_ast_segments(node.body, lines, seg_start, seg_end, name))
            out.append(Segment((name,), seg_start, seg_end, children))
            group = None
            continue
        names = [owner] if owner else _statement_names(node)
        if group is None:
            group = []
            out.append(Segment((), seg_start, seg_end))
        group.extend(name for name in names if name not in group)
        out[-1] = Segment(tuple(group) or (owner or "module",), out[-1].start, seg_end, definition=False)
    return out


def _statement_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return ["imports"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return [target.id for target in targets if isinstance(target, ast.Name)]


def _python_boundaries(lines: list[str]) -> list[int]:
    """Column-0 ``def``/``class``/decorator lines (a decorated def starts at its first decorator)."""
    found: list[int] = []
    for index, line in enumerate(lines):
        if _PY_BOUNDARY.match(line) and not (index and lines[index - 1].startswith("@")):
            found.append(index)
    return found


def _block_boundaries(lines: list[str]) -> list[int]:
    """Column-0 lines after a blank line while brackets are balanced (top-level blocks)."""
    found: list[int] = []
    depth = 0
    for index, line in enumerate(lines):
        if (
            index
            and depth == 0
            and line[:1] not in ("", " ", "\t", "}", ")", "]")
            and not lines[index - 1].strip()
        ):
            found.append(index)
        code = line.split("//", 1)[0] if "//" in line and "://" not in line else line
        opened = code.count("{") + code.count("(") + code.count("[")
        closed = code.count("}") + code.count(")") + code.count("]")
        depth = max(0, depth + opened - closed)
    return found


def _boundary_segments(lines: list[str], boundaries: list[int]) -> list[Segment]:
    starts = sorted({0, *boundaries})
    ends = [*starts[1:], len(lines)]
    return [
        Segment((_block_name(lines[start:end], start),), start, end)
        for start, end in zip(starts, ends, strict=True)
    ]


def _block_name(lines: list[str], start: int) -> str:
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", "/*", "*", "--", ";", "@")) or _COMMENT.match(stripped):
            continue
        if _IMPORT.match(stripped):
            return "imports"
        for pattern in (_DECLARATION, _TABLE, _KEY):
            match = pattern.match(stripped)
            if match:
                return match.group(1).strip("\"'")
        break
    return f"lines {start + 1}-{start + len(lines)}"
