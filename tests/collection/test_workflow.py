"""The collection workflow end to end: the deployed ASL, executed locally with the real handlers, the
real crawlers against the sample author's site on 127.0.0.1, and the warehouse on moto's server."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from llm_twin.cli.collect import collect
from llm_twin.collection.events import CollectionRequest, RunSummary
from llm_twin.errors import InvalidInputError
from llm_twin.local.aws import LocalAws
from llm_twin.local.workflows import run_workflow
from llm_twin.sample.server import SampleSite
from llm_twin.workflows.catalog import COLLECTION


def no_sleep(seconds: float) -> None:
    return None


def by_link(summary: RunSummary) -> dict[str, object]:
    return {link.link: link for link in summary.links}


def test_sample_author_collected_with_a_partial_failure(local_aws: LocalAws, site: SampleSite) -> None:
    missing = f"{site.base_url('blog')}/no-such-post/"
    blocked = "http://169.254.169.254/latest/meta-data/"
    malformed = "http//not a url"
    summary = collect(
        local_aws.settings, site.author_name, [*site.entry_links(), missing, blocked, malformed]
    )

    assert summary.status == "partial"
    links = by_link(summary)
    assert [links[url].status for url in site.entry_links()] == ["ok"] * 4
    assert [links[url].crawler for url in site.entry_links()] == ["medium", "substack", "article", "github"]
    assert links[missing].status == "failed" and "404" in links[missing].reason
    assert links[blocked].status == "failed" and "not a public address" in links[blocked].reason
    assert links[malformed].status == "failed" and links[malformed].reason.startswith("rejected")
    assert summary.counts["ok"] == 4 and summary.counts["failed"] == 3

    documents = local_aws.warehouse().list_documents()
    platforms = Counter(str(d.platform) for d in documents)
    assert platforms["medium"] == len(site.pieces("medium"))
    assert platforms["substack"] == len(site.pieces("substack"))
    assert platforms["blog"] == len(site.pieces("blog"))
    assert platforms["github"] >= 5  # one document per kept repository file
    assert summary.counts["documents_new"] == len(documents)
    assert {d.author_name for d in documents} == {site.author_name}

    author = local_aws.warehouse().list_authors()[0]
    assert author.full_name == site.author_name
    assert len(author.links) == 5  # the malformed link is never saved on the profile

    stored = local_aws.warehouse().get_run(summary.run_id)
    assert stored is not None and stored[0].status == "partial" and stored[0].finished_at is not None


def test_recrawl_is_idempotent_and_picks_up_edits(local_aws: LocalAws, site: SampleSite) -> None:
    medium = site.entry_links()[0]
    first = collect(local_aws.settings, site.author_name, [medium])
    assert first.links[0].new == len(site.pieces("medium"))

    again = collect(local_aws.settings, site.author_name, [medium])
    assert again.links[0].status == "unchanged"
    assert again.counts["documents_new"] == 0 and again.counts["documents_updated"] == 0

    piece = site.pieces("medium")[0]
    site.update_piece("medium", piece.slug, append="A postscript added after publication, with a new idea.")
    edited = collect(local_aws.settings, site.author_name, [medium])
    assert edited.links[0].status == "ok"
    assert edited.links[0].updated == 1
    assert edited.links[0].unchanged == len(site.pieces("medium")) - 1
    changed = [d for d in local_aws.warehouse().list_documents(platform="medium") if d.version == 2]
    assert len(changed) == 1 and "postscript added after publication" in changed[0].content


def test_transient_failures_are_retried_then_reported(local_aws: LocalAws, site: SampleSite) -> None:
    flaky = f"{site.base_url('blog')}/flaky/"
    site.set_override("blog", "/flaky/", "down", status=503)
    request = CollectionRequest(author=site.author_name, links=[flaky, site.entry_links()[2]])
    execution = run_workflow(
        COLLECTION, request.model_dump(exclude_none=True), local_aws.settings, sleep=no_sleep
    )

    assert execution.status == "SUCCEEDED"
    summary = RunSummary.model_validate(execution.output)
    links = by_link(summary)
    assert links[flaky].status == "failed"
    assert links[flaky].reason.startswith("TransientFetchError: ")
    assert links[site.entry_links()[2]].status == "ok"
    # The workflow's Retry made 3 more attempts after the first, each with the fetcher's own retries.
    attempts = local_aws.settings.crawl_max_retries + 1
    assert site.hits("blog", "/flaky/") == 4 * attempts


def test_schedule_recrawls_every_author(local_aws: LocalAws, site: SampleSite) -> None:
    collect(local_aws.settings, site.author_name, site.entry_links()[:2])
    collect(local_aws.settings, "Second Author", [site.entry_links()[2]])
    execution = run_workflow(COLLECTION, {"all_authors": True}, local_aws.settings, sleep=no_sleep)
    summary = RunSummary.model_validate(execution.output)
    assert execution.status == "SUCCEEDED", execution.cause
    assert sorted(link.author_id for link in summary.links) == ["nell-harrowgate"] * 2 + ["second-author"]
    assert summary.status == "succeeded"
    assert summary.counts["unchanged"] == 3


def test_invalid_request_fails_the_execution_with_a_clear_reason(local_aws: LocalAws) -> None:
    with pytest.raises(InvalidInputError, match="needs an author and at least one link"):
        collect(local_aws.settings, "Someone", [])
    execution = run_workflow(COLLECTION, {"author": "", "links": "x"}, local_aws.settings, sleep=no_sleep)
    assert execution.status == "FAILED"
    assert "validation error" in json.loads(execution.cause)["errorMessage"].lower()
    assert local_aws.warehouse().list_runs() == []
