"""The collection workflow's own ASL (collection.asl.json) run end to end with fake Lambda handlers; the
Distributed Map reads its targets from, and writes its results to, S3 (moto, in process)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sfn_testing import FakeSleep

from llm_twin.collection.events import CrawlTarget
from llm_twin.collection.run_objects import RunObjects, encode_targets
from llm_twin.settings import Settings
from llm_twin.workflows import history
from llm_twin.workflows.history import Execution
from llm_twin.workflows.runner import PAYLOAD_LIMIT_BYTES, LocalStateMachine, load_definition

ASL = Path(str(files("llm_twin.workflows").joinpath("collection.asl.json")))
ACCOUNT_ARN = "arn:aws:lambda:eu-west-1:111122223333:function"
SUBSTITUTIONS = {
    "ValidateFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-validate",
    "CrawlFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-crawl:live",
    "FinalizeFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-finalize",
}
LINKS = [f"https://blog.example.com/post-{n}" for n in range(6)]
FLAKY, BROKEN = LINKS[1], LINKS[3]
BUCKET = "llm-twin-test-collection-runs"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunObjects]:
    """The collection bucket on moto (in process): where Validate puts the targets."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield RunObjects(Settings(collection_bucket=BUCKET, aws_endpoint_url=None), client)


def validated(
    runs: RunObjects, run_id: str, targets: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    """What the validate handler returns: where the targets are, not the targets."""
    stored = runs.put_targets(run_id, [CrawlTarget.model_validate(t) for t in targets])
    return {
        "run_id": run_id,
        "max_concurrency": concurrency,
        "link_count": len(targets),
        "targets": stored.model_dump(),
        "results": runs.results(run_id).model_dump(),
    }


def machine_for(handlers: dict[str, Any], runs: RunObjects, **options: Any) -> LocalStateMachine:
    options.setdefault("sleep", FakeSleep())
    return LocalStateMachine(load_definition(ASL, SUBSTITUTIONS), handlers, s3_client=runs.client, **options)


def result_files(runs: RunObjects, execution: Execution) -> dict[str, list[dict[str, Any]]]:
    """The ResultWriter's export of the run: child execution results by status (from the manifest)."""
    (exited,) = [e for e in execution.events_of(history.MAP_RUN_SUCCEEDED, "CrawlLinks")]
    manifests = runs.client.list_objects_v2(Bucket=BUCKET, Prefix="runs/")["Contents"]
    (manifest_key,) = [o["Key"] for o in manifests if o["Key"].endswith("/manifest.json")]
    assert manifest_key.startswith("runs/") and "/results/" in manifest_key
    manifest = json.loads(runs.client.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert manifest["MapRunArn"] == exited.details["map_run_arn"]
    return {
        status: [
            entry
            for file in manifest["ResultFiles"][status]
            for entry in json.loads(runs.client.get_object(Bucket=BUCKET, Key=file["Key"])["Body"].read())
        ]
        for status in ("SUCCEEDED", "FAILED", "PENDING")
    }


class TransientFetchError(Exception):
    pass


class BlockedByRobots(Exception):
    pass


class FakeCollection:
    """The three handlers the workflow calls, recording what they were given."""

    def __init__(self, max_concurrency: int, runs: RunObjects, flaky_failures: int = 2) -> None:
        self.max_concurrency = max_concurrency
        self.runs = runs
        self.flaky_failures = flaky_failures
        self.validate_events: list[Any] = []
        self.finalize_events: list[Any] = []
        self.recorded: dict[int, dict[str, Any]] = {}  # what the crawl function wrote, by link index
        self.crawl_calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        # The first wave of crawls waits until max_concurrency of them run together.
        self.barrier = threading.Barrier(max_concurrency, timeout=5)

    def handlers(self) -> dict[str, Any]:
        return {
            "llm-twin-collect-validate": self.validate,
            "llm-twin-collect-crawl": self.crawl,
            "llm-twin-collect-finalize": self.finalize,
        }

    def validate(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.validate_events.append(event)
        request = event["request"]
        targets = [
            {"index": index, "author_id": "a-1", "author_name": request["author"], "link": link}
            for index, link in enumerate(request["links"])
        ]
        return validated(self.runs, "run-1", targets, self.max_concurrency)

    def crawl(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        link = event["target"]["link"]
        if "failure" in event:  # the workflow's RecordFailure state: store the failure, do not crawl
            report = {"link": link, "status": "failed", **event["failure"], "target": event["target"]}
            with self.lock:
                self.recorded[event["target"]["index"]] = report
            return report
        with self.lock:
            self.crawl_calls[link] = self.crawl_calls.get(link, 0) + 1
            attempt = self.crawl_calls[link]
            first_wave = sum(self.crawl_calls.values()) <= self.max_concurrency
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if first_wave:
                self.barrier.wait()
            time.sleep(0.005)
            if link == FLAKY and attempt <= self.flaky_failures:
                raise TransientFetchError(f"{link} timed out (attempt {attempt})")
            if link == BROKEN:
                raise BlockedByRobots(f"robots.txt forbids {link}")
            report = {"link": link, "status": "ok", "target": event["target"]}
            with self.lock:
                self.recorded[event["target"]["index"]] = report
            return report
        finally:
            with self.lock:
                self.running -= 1

    def finalize(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.finalize_events.append(event)
        statuses = [self.recorded[index]["status"] for index in sorted(self.recorded)]
        return {
            "run_id": event["run_id"],
            "status": "partial",
            "counts": {s: statuses.count(s) for s in statuses},
        }


def run_collection(fake: FakeCollection, sleep: FakeSleep) -> Execution:
    machine = machine_for(fake.handlers(), fake.runs, sleep=sleep, rng=random.Random(11), name="collection")
    return machine.execute({"author": "Ada", "links": LINKS}, name="collect-1")


@pytest.mark.parametrize("max_concurrency", [1, 2, 3])
def test_a_collection_run_reports_every_link_in_order(max_concurrency: int, runs: RunObjects) -> None:
    fake, sleep = FakeCollection(max_concurrency, runs), FakeSleep()
    execution = run_collection(fake, sleep)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"run_id": "run-1", "status": "partial", "counts": {"ok": 5, "failed": 1}}
    assert fake.validate_events == [
        {
            "request": {"author": "Ada", "links": LINKS},
            "execution_id": "arn:aws:states:us-east-1:123456789012:execution:collection:collect-1",
        }
    ]

    # MaxConcurrencyPath: exactly the limit Validate returned ran at once.
    assert fake.peak == max_concurrency

    # The flaky link: two TransientFetchErrors, retried with full-jitter waits, then a success.
    assert fake.crawl_calls[FLAKY] == 3
    assert execution.attempts("CrawlLink", scope="CrawlLinks[1]") == 3
    assert len(sleep.calls) == 2
    assert 0 <= sleep.calls[0] <= 2 and 0 <= sleep.calls[1] <= 4

    # The broken link is not retried; RecordFailure turns its error into a failed report.
    assert fake.crawl_calls[BROKEN] == 1
    assert fake.finalize_events == [{"run_id": "run-1"}]
    reports = [fake.recorded[index] for index in sorted(fake.recorded)]
    assert [report["link"] for report in reports] == LINKS
    failed = reports[3]
    assert failed["status"] == "failed"
    assert failed["error"] == "BlockedByRobots"
    assert failed["target"] == {"index": 3, "author_id": "a-1", "author_name": "Ada", "link": BROKEN}
    cause = json.loads(failed["cause"])
    assert cause["errorType"] == "BlockedByRobots"
    assert cause["errorMessage"] == f"robots.txt forbids {BROKEN}"
    assert all(report["status"] == "ok" for index, report in enumerate(reports) if index != 3)

    # Distributed Map: one child execution per link, each with its own history; the parent keeps its own
    # few events, and the children's results went to S3 (ResultWriter), not into the state.
    assert len(execution.child_executions()) == len(LINKS)
    assert len(execution.parent_events()) < 20
    exported = result_files(runs, execution)
    assert (len(exported["SUCCEEDED"]), exported["FAILED"], exported["PENDING"]) == (len(LINKS), [], [])
    children = sorted(exported["SUCCEEDED"], key=lambda entry: json.loads(entry["Input"])["target"]["index"])
    assert [json.loads(entry["Input"])["target"]["link"] for entry in children] == LINKS
    assert [json.loads(entry["Output"])["status"] for entry in children] == ["ok"] * 3 + ["failed"] + [
        "ok"
    ] * 2
    assert children[0]["ExecutionArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:execution:collection/CrawlLinks:"
    )


def test_a_link_that_keeps_failing_is_reported_after_its_retries(runs: RunObjects) -> None:
    fake, sleep = FakeCollection(max_concurrency=2, runs=runs, flaky_failures=10), FakeSleep()
    execution = run_collection(fake, sleep)
    assert execution.status == "SUCCEEDED"
    assert fake.crawl_calls[FLAKY] == 4  # the first call and MaxAttempts (3) retries
    report = fake.recorded[1]
    assert (report["status"], report["error"]) == ("failed", "TransientFetchError")
    caught = [event for event in execution.events_of(history.ERROR_CAUGHT, "CrawlLink")]
    assert {event.scope for event in caught} == {"CrawlLinks[1]", "CrawlLinks[3]"}


def test_a_validation_error_fails_the_execution(runs: RunObjects) -> None:
    class CollectionRequestInvalid(Exception):
        pass

    def validate(event: Any, context: Any) -> None:
        raise CollectionRequestInvalid("links or all_authors is required")

    fake = FakeCollection(max_concurrency=1, runs=runs)
    handlers = {**fake.handlers(), "llm-twin-collect-validate": validate}
    execution = machine_for(handlers, runs).execute({"author": "Ada"})
    assert (execution.status, execution.error) == ("FAILED", "CollectionRequestInvalid")
    assert json.loads(execution.cause)["errorMessage"] == "links or all_authors is required"
    assert fake.crawl_calls == {}


def test_a_full_run_of_failing_links_fits_the_payload_quota(runs: RunObjects) -> None:
    from llm_twin.collection.events import MAX_LINKS_PER_RUN

    links = [
        f"https://medium.com/@ada/an-article-slug-of-ordinary-length-{n:04d}"
        for n in range(MAX_LINKS_PER_RUN)
    ]

    def validate(event: Any, context: Any) -> dict[str, Any]:
        targets = [
            {
                "index": i,
                "author_id": "3f2b8c1e-5d6a-4e1b-9c3d-7a8b9c0d1e2f",
                "author_name": "Ada",
                "link": link,
            }
            for i, link in enumerate(links)
        ]
        return validated(runs, "20250101T000000-abcdef", targets, 8)

    def fetch(url: str, depth: int = 4) -> None:
        if depth == 0:
            raise ConnectionError(
                f"HTTPSConnectionPool(host='medium.com', port=443): Max retries exceeded: {url}"
            )
        fetch(url, depth - 1)

    recorded: list[dict[str, Any]] = []

    def crawl(event: Any, context: Any) -> dict[str, Any]:
        if "failure" in event:
            recorded.append(event)
            return {"status": "failed", "link": event["target"]["link"], "reason": event["failure"]["error"]}
        fetch(event["target"]["link"])
        raise AssertionError("unreachable")

    handlers = {
        "llm-twin-collect-validate": validate,
        "llm-twin-collect-crawl": crawl,
        "llm-twin-collect-finalize": lambda event, context: {"recorded": len(recorded), **event},
    }
    execution = machine_for(handlers, runs).execute({"author": "Ada", "links": links})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"recorded": MAX_LINKS_PER_RUN, "run_id": "20250101T000000-abcdef"}
    # every failure reached the crawl function with Step Functions' error document
    assert {event["failure"]["error"] for event in recorded} == {"ConnectionError"}
    assert all(json.loads(event["failure"]["cause"])["stackTrace"] for event in recorded)


def test_a_child_execution_that_fails_anyway_does_not_fail_the_run(runs: RunObjects) -> None:
    """Catch cannot stop a terminal error (States.DataLimitExceeded: the crawl function answered more than
    256 KB): that child execution fails, the Map tolerates it (ToleratedFailurePercentage 100), and
    Finalize still runs and reports every link from the warehouse."""
    fake = FakeCollection(max_concurrency=2, runs=runs)
    crawl = fake.crawl

    def oversized(event: dict[str, Any], context: Any) -> dict[str, Any]:
        report = crawl(event, context)
        if event["target"]["link"] == LINKS[4] and "failure" not in event:
            return {**report, "status": "ok", "padding": "x" * PAYLOAD_LIMIT_BYTES}
        return report

    handlers = {**fake.handlers(), "llm-twin-collect-crawl": oversized}
    execution = machine_for(handlers, runs, rng=random.Random(3)).execute({"author": "Ada", "links": LINKS})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert fake.finalize_events == [{"run_id": "run-1"}]
    (failed,) = execution.events_of(history.ITERATION_FAILED, "CrawlLinks")
    assert (failed.scope, failed.details["error"]) == ("CrawlLinks[4]", "States.DataLimitExceeded")
    (run,) = execution.events_of(history.MAP_RUN_SUCCEEDED, "CrawlLinks")
    assert run.details["counts"] == {"SUCCEEDED": 5, "FAILED": 1, "ABORTED": 0}
    exported = result_files(runs, execution)
    assert len(exported["SUCCEEDED"]) == 5
    (entry,) = exported["FAILED"]
    assert entry["Error"] == "States.DataLimitExceeded"
    assert json.loads(entry["Input"])["target"]["link"] == LINKS[4]


AUTHORS, LINKS_PER_AUTHOR = 60, 50  # 3,000 links (100 x 200 = 20,000 also passes, in ~5 s)


def test_a_recrawl_of_3000_links_keeps_every_payload_and_the_history_small(runs: RunObjects) -> None:
    """The scheduled re-crawl at scale: the targets of 60 authors x 50 links (~400 KB as JSON, more than a
    state may carry) go through S3; every link is crawled once, in its own child execution; the parent's
    history and every payload it holds stay small whatever the number of links."""
    targets = [
        {
            "index": a * LINKS_PER_AUTHOR + n,
            "author_id": f"author-{a:03d}",
            "author_name": f"Author Number {a:03d}",
            "link": f"https://author-{a:03d}.example.com/posts/an-article-slug-of-ordinary-length-{n:03d}",
        }
        for a in range(AUTHORS)
        for n in range(LINKS_PER_AUTHOR)
    ]
    total = len(targets)
    assert len(encode_targets([CrawlTarget.model_validate(t) for t in targets])) > PAYLOAD_LIMIT_BYTES
    crawled: dict[int, int] = {}
    lock = threading.Lock()

    def crawl(event: dict[str, Any], context: Any) -> dict[str, Any]:  # a cheap stand-in: no fetch
        with lock:
            crawled[event["target"]["index"]] = crawled.get(event["target"]["index"], 0) + 1
        return {"status": "unchanged", "link": event["target"]["link"]}

    def finalize(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"run_id": event["run_id"], "status": "succeeded", "counts": {"unchanged": len(crawled)}}

    handlers = {
        "llm-twin-collect-validate": lambda event, context: validated(runs, "run-1", targets, 40),
        "llm-twin-collect-crawl": crawl,
        "llm-twin-collect-finalize": finalize,
    }
    began = time.perf_counter()
    execution = machine_for(handlers, runs).execute({"all_authors": True})
    elapsed = time.perf_counter() - began

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"run_id": "run-1", "status": "succeeded", "counts": {"unchanged": total}}
    assert crawled == dict.fromkeys(range(total), 1)
    assert len(execution.child_executions()) == total
    # The parent's own history does not grow with the links (AWS: 25,000 events per Standard execution).
    parent = execution.parent_events()
    assert len(parent) < 20, [e.type for e in parent]
    largest = max(len(json.dumps(e.details)) for e in parent)
    assert largest < 2_000, largest  # the biggest payload the parent ever holds: a few hundred bytes
    exported = result_files(runs, execution)
    assert len(exported["SUCCEEDED"]) == total and not exported["FAILED"]
    assert elapsed < 30, elapsed
