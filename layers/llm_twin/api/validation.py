"""Link checks shared by the routes: the SSRF guard's cheap pre-check, no DNS, no network."""

from __future__ import annotations

from collections.abc import Iterable

from llm_twin.crawling.ssrf import AddressPolicy
from llm_twin.errors import FetchError, InvalidInputError

MAX_REPORTED = 10


def check_links(policy: AddressPolicy, links: Iterable[str]) -> None:
    """Raise InvalidInputError (-> 422) naming every refused link and why."""
    problems = []
    for index, link in enumerate(links):
        try:
            policy.check_url(link.strip())
        except (FetchError, InvalidInputError) as exc:
            problems.append(f"links[{index}]: {exc}")
    if problems:
        more = f" (+{len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise InvalidInputError("; ".join(problems[:MAX_REPORTED]) + more)
