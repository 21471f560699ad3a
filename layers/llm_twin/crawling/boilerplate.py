"""Find the readable content of a page and strip the boilerplate around and inside it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bs4 import BeautifulSoup, Tag

# Never content, wherever they are.
JUNK_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed",
             "button", "input", "select", "textarea", "dialog", "link", "meta")  # fmt: skip
# Page chrome: dropped inside the chosen content too (a <header> holding the <h1> is kept).
CHROME_TAGS = ("nav", "header", "footer", "aside", "form")
CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog",
                          "search", "menu", "menubar"})  # fmt: skip
BOILERPLATE_TOKENS = frozenset({
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer", "sidebar", "cookie",
    "cookies", "consent", "gdpr", "subscribe", "subscription", "newsletter", "signup", "share", "sharing",
    "social", "related", "recommended", "recommendations", "comments", "comment", "disqus", "promo",
    "advert", "advertisement", "ad", "ads", "sponsored", "popup", "modal", "paywall", "pagination", "pager",
})  # fmt: skip
_TOKEN_SPLIT = re.compile(r"[\s_-]+")
_SHORT_BOILERPLATE = re.compile(
    r"^(subscribe( now| for free)?|subscribed|share( this( post| article| story)?)?|share on \w+|tweet|"
    r"like|restack|leave a (comment|reply)|sign (up|in)|log in|follow( us)?|\d+ comments?|comments?)$"
    r"|(subscribe|sign up|join).{0,80}(newsletter|mailing list|new posts|for free|updates|inbox)"
    r"|newsletter.{0,60}(subscribe|sign up|inbox)"
    r"|\b\d{1,3} min read\b"
    r"|(this (site|website)|we) uses? cookies|accept (all )?cookies|cookie (policy|settings|preferences)",
    re.I,
)
_SECTION_HEADINGS = re.compile(
    r"^(related( posts| articles| stories)?|you (might|may) also like|read next|more from .{1,60}|"
    r"recommended( for you)?|\d* ?comments?|leave a (comment|reply)|share this( post| article)?)$",
    re.I,
)
_SHORT_TEXT = 200
_BLOCKS = ("p", "div", "section", "span", "li", "ul", "small")
_PROTECTED = ("html", "body", "main", "article", "[document]")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def _protected_ids(root: Tag) -> set[int]:
    """Elements never removed: those containing the main content (an h1, article or main)."""
    keep: set[int] = set()
    for anchor in root.find_all(("h1", "article", "main")):
        node: Tag | None = anchor
        while node is not None and id(node) not in keep:
            keep.add(id(node))
            node = node.parent
    return keep


def _is_protected(tag: Tag, keep: set[int]) -> bool:
    if tag.name in _PROTECTED or tag.get("role") == "main" or id(tag) in keep:
        return True
    return tag.find_parent(("pre", "code")) is not None


def _holds_the_page(tag: Tag, half_of_page: int) -> bool:
    """A class such as ``post-body share-enabled`` must not take the article with it."""
    return half_of_page > 250 and _text_length(tag) > half_of_page


def _tokens(tag: Tag) -> set[str]:
    values = tag.get("class") or []
    if isinstance(values, str):
        values = [values]
    words = " ".join([*values, str(tag.get("id") or "")]).lower()
    return set(_TOKEN_SPLIT.split(words)) - {""}


def remove_junk(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(JUNK_TAGS):
        tag.decompose()


def _decompose(tags: Sequence[Tag]) -> None:
    for tag in tags:
        if not tag.decomposed:
            tag.decompose()


def remove_boilerplate(root: Tag, *, drop_chrome: bool = True) -> None:
    """Drop chrome (nav/footer/...), boilerplate by class/id/role, and short boilerplate text blocks."""
    keep = _protected_ids(root)
    half_of_page = _text_length(root) // 2
    doomed: list[Tag] = []
    for tag in root.find_all(True):
        if _is_protected(tag, keep):
            continue
        chrome = drop_chrome and (tag.name in CHROME_TAGS or tag.get("role") in CHROME_ROLES)
        flagged = bool(_tokens(tag) & BOILERPLATE_TOKENS) and not _holds_the_page(tag, half_of_page)
        if chrome or flagged:
            doomed.append(tag)
    _decompose(doomed)
    _remove_boilerplate_text(root, keep)


def _remove_boilerplate_text(root: Tag, keep: set[int]) -> None:
    doomed: list[Tag] = []
    for heading in root.find_all(_HEADINGS[1:]):
        if _SECTION_HEADINGS.match(heading.get_text(" ", strip=True)):
            doomed.append(heading)
            for sibling in heading.find_next_siblings():
                if sibling.name in _HEADINGS:
                    break
                doomed.append(sibling)
    for tag in root.find_all(_BLOCKS):
        if _is_protected(tag, keep) or tag.find(("pre", "code", *_HEADINGS)) is not None:
            continue
        text = tag.get_text(" ", strip=True)
        if len(text) <= _SHORT_TEXT and _SHORT_BOILERPLATE.search(text):
            doomed.append(tag)
    _decompose(doomed)


def _text_length(tag: Tag) -> int:
    return len(tag.get_text(" ", strip=True))


def densest_container(root: Tag) -> Tag | None:
    """Readability-style: each paragraph scores its parent fully and its grandparent half."""
    scores: dict[int, float] = {}
    nodes: dict[int, Tag] = {}
    for para in root.find_all(("p", "pre", "blockquote")):
        length = _text_length(para)
        if length < 25 and para.name == "p":
            continue
        for ancestor, weight in ((para.parent, 1.0), (para.parent.parent if para.parent else None, 0.5)):
            if isinstance(ancestor, Tag) and ancestor.name not in ("[document]", "html"):
                scores[id(ancestor)] = scores.get(id(ancestor), 0.0) + weight * length
                nodes[id(ancestor)] = ancestor
    if not scores:
        return None
    return nodes[max(scores, key=lambda key: scores[key])]


def main_content(soup: BeautifulSoup, selectors: Sequence[str] = ()) -> Tag:
    """The element holding the readable content: crawler selectors, <article>, <main>, role=main,
    else the densest text container, else <body>."""
    for selector in selectors:
        found = soup.select_one(selector)
        if found is not None and _text_length(found) > 0:
            return found
    articles = soup.find_all("article")
    if articles:
        return max(articles, key=_text_length)
    for candidate in (soup.find("main"), soup.find(attrs={"role": "main"})):
        if isinstance(candidate, Tag) and _text_length(candidate) > 0:
            return candidate
    body = soup.body or soup
    return densest_container(body) or body
