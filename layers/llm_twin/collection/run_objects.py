"""A collection run's work files in S3: the targets the workflow's Distributed Map reads, and the prefix
its ResultWriter writes the child executions' results under.

    runs/<run_id>/targets.json     JSON array of CrawlTarget, written by Validate (ItemReader reads it)
    runs/<run_id>/results/...      manifest.json + SUCCEEDED_0.json / FAILED_0.json (ResultWriter)

The bucket is ``settings.collection_bucket`` (``LLM_TWIN_COLLECTION_BUCKET``; CDK sets it on the validate
function, the local runtime creates it on moto). Objects expire after a few days (bucket lifecycle rule
in infra/constructs/collection_workflow.py): the warehouse is the record of a run, these are scratch.
infra/ builds its IAM resources from the constants here, so code and policies name the same keys.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from llm_twin.collection.events import CrawlTarget, ResultsLocation, TargetsObject
from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings

RUNS_PREFIX = "runs"
TARGETS_FILE = "targets.json"
RESULTS_FOLDER = "results"


def targets_key(run_id: str) -> str:
    return f"{RUNS_PREFIX}/{run_id}/{TARGETS_FILE}"


def results_prefix(run_id: str) -> str:
    return f"{RUNS_PREFIX}/{run_id}/{RESULTS_FOLDER}"


def encode_targets(targets: Sequence[CrawlTarget]) -> bytes:
    """The ItemReader's input: one JSON array, one object per target (compact: ~150 B per link)."""
    items = [target.model_dump(mode="json") for target in targets]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode()


class RunObjects:
    """Writes a run's targets object; tells the workflow where its targets and results live."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.bucket = settings.collection_bucket
        self._settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3", self._settings)
        return self._client

    def put_targets(self, run_id: str, targets: Sequence[CrawlTarget]) -> TargetsObject:
        """Write (or overwrite: a retried Validate writes the same) ``runs/<run_id>/targets.json``."""
        key = targets_key(run_id)
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=encode_targets(targets), ContentType="application/json"
        )
        return TargetsObject(bucket=self.bucket, key=key)

    def results(self, run_id: str) -> ResultsLocation:
        return ResultsLocation(bucket=self.bucket, prefix=results_prefix(run_id))

    def read_targets(self, run_id: str) -> list[CrawlTarget]:
        body = self.client.get_object(Bucket=self.bucket, Key=targets_key(run_id))["Body"].read()
        return [CrawlTarget.model_validate(item) for item in json.loads(body)]


def create_bucket(settings: Settings) -> None:
    """Create the collection bucket if it does not exist (the local runtime; CDK creates it on AWS)."""
    client = aws_client("s3", settings)
    request: dict[str, Any] = {"Bucket": settings.collection_bucket}
    if settings.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        request["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    with contextlib.suppress(
        client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists
    ):
        client.create_bucket(**request)
