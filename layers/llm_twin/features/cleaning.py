"""Cleaning crawled markdown for retrieval: remove noise, keep structure, never touch code.

``clean_markdown`` works line by line outside fenced code blocks (fences are copied byte for byte,
an unclosed fence runs to the end of the document as CommonMark says). Inline code spans are masked
while a line is cleaned. It is idempotent: ``clean_markdown(clean_markdown(x)) == clean_markdown(x)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

from llm_twin.domain.models import Category

# --- fences (shared with the chunker) -------------------------------------------------------------
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<marker>`{3,}|~{3,})(?P<info>[^\n]*)$")


def fence_opening(line: str) -> str | None:
    """The fence marker (e.g. ```` ``` ```` or ``~~~~``) if ``line`` opens a fenced code block.

    Any indentation is accepted (fences inside list items), so prose rules never reach code."""
    match = _FENCE_OPEN.match(line)
    if match is None:
        return None
    marker = match["marker"]
    if marker[0] == "`" and "`" in match["info"]:
        return None  # an inline code span such as ```a``` b, not a fence
    return marker


def fence_closes(line: str, marker: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(marker) and stripped == marker[0] * len(stripped)


def fence_language(line: str) -> str:
    """The info string's first word of an opening fence line (``python`` for ```` ```python x ````)."""
    info = line.strip().lstrip("`~").strip()
    return info.split()[0] if info else ""


def split_fenced(text: str) -> Iterator[tuple[bool, list[str]]]:
    """Runs of lines as ``(is_code, lines)``; code runs include their fence lines."""
    lines = text.split("\n")
    prose: list[str] = []
    index = 0
    while index < len(lines):
        marker = fence_opening(lines[index])
        if marker is None:
            prose.append(lines[index])
            index += 1
            continue
        if prose:
            yield False, prose
            prose = []
        end = index + 1
        while end < len(lines) and not fence_closes(lines[end], marker):
            end += 1
        yield True, lines[index : end + 1]
        index = end + 1
    if prose:
        yield False, prose


# --- characters ----------------------------------------------------------------------------------
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_PICTO = (
    "\U0001f300-\U0001f3fa\U0001f400-\U0001f64f\U0001f680-\U0001f6ff\U0001f7e0-\U0001f7ff"
    "\U0001f900-\U0001f9ff\U0001fa70-\U0001faff\U0001f004\U0001f0cf\U0001f18e\U0001f191-\U0001f19a"
    "\U0001f201-\U0001f251\u2600-\u27bf\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u2934\u2935\u3030\u303d"
)
_MOD = "\ufe0e\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_EMOJI = (
    rf"(?:[\U0001f1e6-\U0001f1ff]{{2}}|[0-9#*]\ufe0f?\u20e3"
    rf"|[{_PICTO}][{_MOD}]*(?:\u200d[{_PICTO}][{_MOD}]*)*)"
)
EMOJI_RUN_MIN = 3  # one or two emoji are the author's voice; a run of three or more is decoration
_EMOJI_RUN = re.compile(rf"{_EMOJI}(?:[ \t]*{_EMOJI}){{{EMOJI_RUN_MIN - 1},}}")

# --- links and URLs ----------------------------------------------------------------------------------
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_BRACKETED = r"(?:[^\[\]\\\n]|\\.|\[(?:[^\[\]\\\n]|\\.)*\])*"
_DEST = r"<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*"
_TITLE = r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*"
_LINK = re.compile(rf"(?P<bang>!?)\[(?P<text>{_BRACKETED})\]\((?P<dest>{_DEST}){_TITLE}\)")
_REF_LINK = re.compile(rf"(?<!\])(?P<bang>!?)\[(?P<text>{_BRACKETED})\]\[[^\[\]\n]*\]")
_REF_DEFINITION = re.compile(
    rf"^ {{0,3}}\[[^\[\]\n]+\]:\s*(?:<[^<>\n]*>|(?:[a-z]+://|/|#|\.)\S*){_TITLE}$", re.IGNORECASE
)
_HTML_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_AUTOLINK = re.compile(r"<(?P<url>(?:https?|ftp)://[^<>\s]+)>")
_URL = re.compile(r"(?:https?|ftp)://[^\s<>()\[\]\"'`\x00]+(?:\([^\s<>()`\x00]*\)[^\s<>()\[\]\"'`\x00]*)*")
_URL_TRAILING = re.compile(r"[.,;:!?'\"*_~]+$")
_URLISH = re.compile(r"^(?:(?:https?|ftp)://|www\.)\S+$", re.IGNORECASE)

_TRACKING_KEYS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url",
        "trk", "trkcampaign", "lipi", "si", "spm", "vero_id", "oly_anon_id", "oly_enc_id", "_ga",
        "_gl", "rb_clickid", "wt.mc_id", "s_cid", "cmpid", "__s", "triedredirect",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "mc_", "hsa_", "pk_", "mtm_", "itm_")
_TRACKING_SOURCE = re.compile(r"^(?:rss|post_page|email|newsletter|share|social|copy_link)|-{3,}", re.I)


def strip_tracking(url: str) -> str:
    """``url`` without tracking query parameters or text fragments; unchanged when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    fragment = "" if parts.fragment.startswith(":~:") else parts.fragment
    items = parts.query.split("&") if parts.query else []
    kept = [item for item in items if not _is_tracking(item, parts.hostname or "")]
    if len(kept) == len(items) and fragment == parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), fragment))


def _is_tracking(item: str, host: str) -> bool:
    key, _, value = item.partition("=")
    key = unquote(key).lower()
    if key in _TRACKING_KEYS or key.startswith(_TRACKING_PREFIXES):
        return True
    if key == "source":
        return bool(_TRACKING_SOURCE.search(unquote(value)))
    return key == "r" and host.endswith("substack.com")  # Substack's referral code


def _clean_url_match(match: re.Match[str]) -> str:
    url = match.group(0)
    trailing = _URL_TRAILING.search(url)
    tail = trailing.group(0) if trailing else ""
    return strip_tracking(url[: len(url) - len(tail)]) + tail


def _link_text(text: str) -> str:
    return _simplify_links(text).strip()


def _replace_link(match: re.Match[str]) -> str:
    text = _link_text(match["text"])
    if match["bang"]:
        return text  # an inline image becomes its alt text; a pixel (no alt) disappears
    dest = match["dest"].strip("<>")
    if _URLISH.match(text) and not dest.startswith("#"):
        return strip_tracking(text)  # the URL *is* the text: keep it, without tracking
    return text


def _replace_ref_link(match: re.Match[str]) -> str:
    return "" if match["bang"] else _link_text(match["text"])


def _simplify_links(text: str) -> str:
    text = _LINK.sub(_replace_link, text)
    text = _REF_LINK.sub(_replace_ref_link, text)
    text = _AUTOLINK.sub(lambda m: m["url"], text)
    return _URL.sub(_clean_url_match, text)


# --- lines ---------------------------------------------------------------------------------------
_TARGET = rf"\((?:{_DEST}){_TITLE}\)"
_IMAGE_ONLY_PARTS = re.compile(
    rf"\[\s*!\[{_BRACKETED}\]{_TARGET}\s*\]{_TARGET}|!\[{_BRACKETED}\](?:{_TARGET}|\[[^\]\n]*\])"
    r"|<img\b[^>]*>",
    re.IGNORECASE,
)
_TOC_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[^\]\n]+\]\(#[^)\s]*\)\s*$")
_INDENTED_CODE = re.compile(r"^(?: {4}|\t)(?![ \t]*(?:[-*+]|\d+[.)])\s)")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s|$)")
_BLOCK_MARKERS = re.compile(r"^\s*(?:>\s*)*(?:[-*+]\s+|\d+[.)]\s+)?")
_BOILERPLATE = re.compile(
    r"subscribe(?:d| now| for free| to \S.*)?|share(?: this)?(?: post| article| story| page)?(?: on \S.*)?"
    r"|sign (?:up|in)(?: now| for free| for \S.*)?|log in|leave a comment|\d+ comments?"
    r"|thanks for reading\b.*\bsubscribe\b.*|read more(?: on \S.*)?|continue reading(?: on \S.*)?"
    r"|read the full (?:story|article|post)(?: on \S.*)?"
    r"|(?:👏\s*)?\d+(?:[.,]\d+)?k? (?:claps?|likes?|responses?|restacks?)|👏\s*\d+(?:[.,]\d+)?k?"
    r"|follow(?:ing)?(?: (?:me|us)(?: on \S.*)?| for more.*)?"
    r"|open in app|get the app|member-only story|upgrade to paid|restack|discussion about this post"
    r"|ready for more|type your email.*|give a gift subscription|copy link|table of contents|contents"
    r"|on this page|\d+ min(?:ute)?s? read"
)
_EDGE_PUNCTUATION = " .:!?<>|-\u2026\u2192\u00bb\u203a\u2013\u2014\u00b7\u2022"
_READING_TIME = re.compile(r"\d+\s*min(?:ute)?s?(?:\s+read)?")
_META_SEPARATOR = re.compile(r"\s+[·•|]\s+")
_BOILERPLATE_MAX_CHARS = 160


def _plain(line: str) -> str:
    """A line reduced to its words, for boilerplate matching."""
    text = _BLOCK_MARKERS.sub("", line)
    text = re.sub(r"[*_~`]", "", text)
    return " ".join(text.split()).strip(_EDGE_PUNCTUATION).lower()


def _is_boilerplate(line: str) -> bool:
    if _HEADING.match(line):
        return False  # headings are structure
    plain = _plain(line)
    if not plain or len(plain) > _BOILERPLATE_MAX_CHARS:
        return False
    if _BOILERPLATE.fullmatch(plain):
        return True
    parts = _META_SEPARATOR.split(plain)  # "September 1, 2024 · 4 min · 802 words · Nell"
    return len(parts) > 1 and any(_READING_TIME.fullmatch(part) for part in parts)


def map_outside_code(line: str, transform: Callable[[str], str]) -> str:
    """Apply ``transform`` to ``line`` with its inline code spans masked (and restored verbatim)."""
    spans: list[str] = []

    def mask(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"\x00{len(spans) - 1}\x00"

    masked = transform(_CODE_SPAN.sub(mask, line))
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], masked)


def _collapse(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def _clean_prose_line(line: str) -> str | None:
    """The cleaned line, or None when the whole line is noise."""
    line = _SPACES.sub(" ", _INVISIBLE.sub("", line)).rstrip()
    if not line.strip():
        return ""
    if _TOC_ITEM.match(line) or _REF_DEFINITION.match(line):
        return None
    if not map_outside_code(line, lambda s: _IMAGE_ONLY_PARTS.sub("", s)).strip():
        return None  # image-only line (pictures, badges, tracking pixels)
    indent = line[: len(line) - len(line.lstrip())]
    body = line[len(indent) :]
    keep_spacing = bool(_INDENTED_CODE.match(line))

    def transform(text: str) -> str:
        text = _HTML_IMG.sub("", _simplify_links(text))
        text = _EMOJI_RUN.sub("", text)
        return text if keep_spacing else _collapse(text)

    body = map_outside_code(body, transform).rstrip()
    if not body:
        return None
    cleaned = indent + body
    if fence_opening(cleaned) is not None:  # prose that only now looks like a fence stays prose
        cleaned = f"{indent}\\{body}"
    return None if _is_boilerplate(cleaned) else cleaned


# --- hashtags (posts) ------------------------------------------------------------------------------
_HASHTAG = r"(?:hashtag)?#[^\W\d_]\w*"
_HASHTAG_LINE = re.compile(rf"^\s*(?:(?<![\w#&/\\]){_HASHTAG}[\s,]*)+$")
_HASHTAG_MARK = re.compile(r"(?<![\w#&/\\])(?:hashtag)?#(?=[^\W\d_])")
_TRAILING_TAGS = re.compile(rf"(?:(?<![\w#&/\\]){_HASHTAG}[\s,]*)+$")


def _strip_hashtags(lines: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
    """Drop the run of hashtags that ends a post; inline hashtags keep their word (``#RAG`` → RAG)."""
    lines = list(lines)
    while lines and not lines[-1][0] and (not lines[-1][1].strip() or _HASHTAG_LINE.match(lines[-1][1])):
        lines.pop()
    if lines and not lines[-1][0]:
        last = lines[-1][1]
        match = _TRAILING_TAGS.search(last)
        if match and match.start() > 0:
            before = last[: match.start()].rstrip()
            tags = re.findall(_HASHTAG, match.group(0))
            if len(tags) >= 2 or (before and not before[-1].isalnum()):
                lines[-1] = (False, before)
    return [
        (code, text if code else map_outside_code(text, lambda s: _HASHTAG_MARK.sub("", s)))
        for code, text in lines
    ]


# --- the document --------------------------------------------------------------------------------
_MAX_PASSES = 5


def clean_markdown(text: str, category: Category | str) -> str:
    """Retrieval-ready markdown: structure and code kept, noise removed. Idempotent: a pass is
    repeated until nothing changes (once more than needed on ordinary text; removals that bring
    two pieces of noise together, such as ``#`` + ``Subscribe``, take a second pass)."""
    category = Category(category)
    for _ in range(_MAX_PASSES):
        cleaned = _clean_once(text, category)
        if cleaned == text:
            break
        text = cleaned
    return text


def _clean_once(text: str, category: Category) -> str:
    lines: list[tuple[bool, str]] = []  # (inside a fenced block, line)
    for is_code, run in split_fenced(text):
        if is_code:
            lines.extend((True, line) for line in run)
            continue
        for line in run:
            cleaned = _clean_prose_line(line)
            if cleaned is not None:
                lines.append((False, cleaned))
    if category is Category.POST:
        lines = _strip_hashtags(lines)
    return _join(lines)


def _join(lines: list[tuple[bool, str]]) -> str:
    """Join lines, collapsing runs of blank prose lines to one and trimming blank prose edges."""
    out: list[str] = []
    pending_blank = False
    for is_code, line in lines:
        if not is_code and not line.strip():
            pending_blank = bool(out)
            continue
        if pending_blank:
            out.append("")
            pending_blank = False
        out.append(line)
    return "\n".join(out)
