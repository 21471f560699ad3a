"""A draft's external link: fetched through the guarded fetcher, extracted, cut to a bounded excerpt."""

from __future__ import annotations

from dataclasses import dataclass

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.errors import BlockedUrlError, CrawlError, FetchError, InvalidInputError, LlmTwinError
from llm_twin.features.tokens import TokenCounter
from llm_twin.rag.context import truncate_tokens


class LinkError(LlmTwinError):
    """The draft's link could not be used (fetch failed, not an article). ``transient``: retry may help."""

    transient = False


class BlockedLinkError(LinkError, InvalidInputError):
    """The link is malformed or refused by the SSRF guard (private, loopback, metadata address...)."""


@dataclass(frozen=True)
class ExternalSource:
    link: str
    title: str
    excerpt: str
    truncated: bool


def fetch_excerpt(
    fetcher: Fetcher, link: str, counter: TokenCounter, tokens: int, max_bytes: int
) -> ExternalSource:
    try:
        fetcher.check_url(link)
    except (BlockedUrlError, InvalidInputError) as exc:
        raise BlockedLinkError(f"link refused: {exc}") from exc
    try:
        response = fetcher.fetch(link, max_bytes=max_bytes)
    except BlockedUrlError as exc:  # e.g. a redirect to a private address
        raise BlockedLinkError(f"link refused: {exc}") from exc
    except FetchError as exc:
        error = LinkError(f"could not fetch {link}: {exc}")
        error.transient = exc.transient
        raise error from exc
    if "html" not in response.content_type and "text/plain" not in response.content_type:
        raise LinkError(f"{link} is not a web page ({response.content_type or 'unknown type'})")
    try:
        if "html" in response.content_type:
            from llm_twin.crawling.extract import extract_article  # bs4/lxml: only for a draft's link

            extracted = extract_article(response.text, url=link, max_bytes=max_bytes)
            title, markdown = extracted.title, extracted.markdown
        else:
            title, markdown = link, response.text
    except CrawlError as exc:
        raise LinkError(f"no readable content at {link}: {exc}") from exc
    excerpt = truncate_tokens(" ".join(markdown.split(" ")), counter, tokens)
    return ExternalSource(link=link, title=title, excerpt=excerpt, truncated=excerpt != markdown)
