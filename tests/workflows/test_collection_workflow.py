"""The collection workflow's own ASL (collection.asl.json) run end to end with fake Lambda handlers."""

from __future__ import annotations

import json
import random
import threading
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sfn_testing import FakeSleep

from llm_twin.workflows import history
from llm_twin.workflows.history import Execution
from llm_twin.workflows.runner import LocalStateMachine, load_definition

ASL = Path(str(files("llm_twin.workflows").joinpath("collection.asl.json")))
ACCOUNT_ARN = "arn:aws:lambda:eu-west-1:111122223333:function"
SUBSTITUTIONS = {
    "ValidateFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-validate",
    "CrawlFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-crawl:live",
    "FinalizeFunctionArn": f"{ACCOUNT_ARN}:llm-twin-collect-finalize",
}
LINKS = [f"https://blog.example.com/post-{n}" for n in range(6)]
FLAKY, BROKEN = LINKS[1], LINKS[3]


class TransientFetchError(Exception):
    pass


class BlockedByRobots(Exception):
    pass


class FakeCollection:
    """The three handlers the workflow calls, recording what they were given."""

    def __init__(self, max_concurrency: int, flaky_failures: int = 2) -> None:
        self.max_concurrency = max_concurrency
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
        return {"run_id": "run-1", "max_concurrency": self.max_concurrency, "targets": targets}

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
    definition = load_definition(ASL, SUBSTITUTIONS)
    machine = LocalStateMachine(
        definition, fake.handlers(), sleep=sleep, rng=random.Random(11), name="collection"
    )
    return machine.execute({"author": "Ada", "links": LINKS}, name="collect-1")


@pytest.mark.parametrize("max_concurrency", [1, 2, 3])
def test_a_collection_run_reports_every_link_in_order(max_concurrency: int) -> None:
    fake, sleep = FakeCollection(max_concurrency), FakeSleep()
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


def test_a_link_that_keeps_failing_is_reported_after_its_retries() -> None:
    fake, sleep = FakeCollection(max_concurrency=2, flaky_failures=10), FakeSleep()
    execution = run_collection(fake, sleep)
    assert execution.status == "SUCCEEDED"
    assert fake.crawl_calls[FLAKY] == 4  # the first call and MaxAttempts (3) retries
    report = fake.recorded[1]
    assert (report["status"], report["error"]) == ("failed", "TransientFetchError")
    caught = [event for event in execution.events_of(history.ERROR_CAUGHT, "CrawlLink")]
    assert {event.scope for event in caught} == {"CrawlLinks[1]", "CrawlLinks[3]"}


def test_a_validation_error_fails_the_execution() -> None:
    class CollectionRequestInvalid(Exception):
        pass

    def validate(event: Any, context: Any) -> None:
        raise CollectionRequestInvalid("links or all_authors is required")

    fake = FakeCollection(max_concurrency=1)
    handlers = {**fake.handlers(), "llm-twin-collect-validate": validate}
    machine = LocalStateMachine(load_definition(ASL, SUBSTITUTIONS), handlers, sleep=FakeSleep())
    execution = machine.execute({"author": "Ada"})
    assert (execution.status, execution.error) == ("FAILED", "CollectionRequestInvalid")
    assert json.loads(execution.cause)["errorMessage"] == "links or all_authors is required"
    assert fake.crawl_calls == {}


def test_a_full_run_of_failing_links_fits_the_payload_quota() -> None:
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
        return {"run_id": "20250101T000000-abcdef", "max_concurrency": 8, "targets": targets}

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
    machine = LocalStateMachine(load_definition(ASL, SUBSTITUTIONS), handlers, sleep=FakeSleep())
    execution = machine.execute({"author": "Ada", "links": links})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"recorded": MAX_LINKS_PER_RUN, "run_id": "20250101T000000-abcdef"}
    # every failure reached the crawl function with Step Functions' error document
    assert {event["failure"]["error"] for event in recorded} == {"ConnectionError"}
    assert all(json.loads(event["failure"]["cause"])["stackTrace"] for event in recorded)
