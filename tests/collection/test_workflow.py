"""The collection workflow end to end: the deployed ASL, executed locally with the real handlers, the
real crawlers against the sample author's site on 127.0.0.1, and the warehouse on moto's server."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from llm_twin.cli.collect import collect
from llm_twin.collection.events import CollectionRequest, RunOutcome, RunSummary
from llm_twin.collection.factory import collection_service
from llm_twin.errors import InvalidInputError
from llm_twin.local.aws import LocalAws
from llm_twin.local.workflows import run_workflow
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from llm_twin.workflows.catalog import COLLECTION
from llm_twin.workflows.history import Execution


def no_sleep(seconds: float) -> None:
    return None


def by_link(summary: RunSummary) -> dict[str, object]:
    return {link.link: link for link in summary.links}


def stored_summary(execution: Execution, settings: Settings) -> RunSummary:
    """The execution's output is the run's outcome (counts, no links); the report is in the warehouse."""
    outcome = RunOutcome.model_validate(execution.output)
    assert "links" not in execution.output
    summary = collection_service(settings).summary(outcome.run_id)
    assert summary is not None and summary.outcome() == outcome
    return summary


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
    summary = stored_summary(execution, local_aws.settings)
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
    assert execution.status == "SUCCEEDED", execution.cause
    summary = stored_summary(execution, local_aws.settings)
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


def test_validate_handler_writes_the_targets_to_s3(local_aws: LocalAws, site: SampleSite) -> None:
    from lambdas.collect_validate.handler import handler
    from llm_twin.collection.run_objects import RunObjects
    from llm_twin.workflows.lambda_invoke import LambdaContext

    links = [*site.entry_links(), "http//not a url"]
    event = {"request": {"author": site.author_name, "links": links, "run_id": "run-v"}, "execution_id": "x"}
    context = LambdaContext("v", "arn:aws:lambda:us-east-1:000000000000:function:v", "request-1")
    output = handler(event, context)

    bucket = local_aws.settings.collection_bucket
    assert output == {
        "run_id": "run-v",
        "max_concurrency": local_aws.settings.crawl_max_concurrency,
        "link_count": 4,  # the malformed link is reported as failed at once, not crawled
        "targets": {"bucket": bucket, "key": "runs/run-v/targets.json"},
        "results": {"bucket": bucket, "prefix": "runs/run-v/results"},
    }
    targets = RunObjects(local_aws.settings).read_targets("run-v")
    assert [t.link for t in targets] == site.entry_links()
    assert [t.index for t in targets] == [0, 1, 2, 3]
    assert {t.author_id for t in targets} == {"nell-harrowgate"}


def test_recrawl_of_many_authors_runs_in_one_execution(local_aws: LocalAws) -> None:
    """The re-crawl of 15 authors x 100 links with the real Validate and Finalize (a stand-in crawl that
    records an outcome as the real one does, without fetching): the links go through S3, the execution's
    output is the outcome, and the 1,500-link report (~300 KB) is in the warehouse."""
    from llm_twin.collection.events import CrawlEvent
    from llm_twin.domain.models import LinkReport
    from llm_twin.local.clients import aws_client
    from llm_twin.local.workflows import handler_of, local_function_arn
    from llm_twin.warehouse.repository import Warehouse
    from llm_twin.workflows.runner import LocalStateMachine, load_definition

    settings = local_aws.settings
    warehouse = Warehouse(settings)
    authors, per_author = 15, 100
    for a in range(authors):
        links = [f"https://author-{a:02d}.example.com/posts/article-{n:03d}" for n in range(per_author)]
        warehouse.upsert_author(f"Author {a:02d}", links)

    def crawl(event: dict[str, object], context: object) -> dict[str, object]:
        parsed = CrawlEvent.model_validate(event)
        report = LinkReport(link=parsed.target.link, status="unchanged", crawler="stand-in")
        warehouse.put_link_status(
            parsed.run_id, parsed.target.index, report, author_id=parsed.target.author_id
        )
        return {"status": report.status}

    arns = {key: local_function_arn(folder, settings) for key, folder in COLLECTION.functions.items()}
    functions = {arns[key]: handler_of(folder) for key, folder in COLLECTION.functions.items()}
    functions[arns["CrawlFunctionArn"]] = crawl
    machine = LocalStateMachine(
        load_definition(COLLECTION.asl_path, arns),
        functions,
        sleep=no_sleep,
        s3_client=aws_client("s3", settings),
    )
    execution = machine.execute({"all_authors": True})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    summary = stored_summary(execution, settings)
    assert summary.status == "succeeded" and summary.counts["unchanged"] == authors * per_author
    assert len(summary.model_dump_json()) > 256 * 1024  # would not fit in a state: it is not in one
    assert len(execution.child_executions()) == authors * per_author
    assert len(execution.parent_events()) < 20
