"""The ``CollectionStarter`` port: start the collection workflow for a run id chosen by the API, and
say what became of a run the warehouse has not recorded yet.

AWS: Step Functions ``StartExecution`` (execution name = run id). Local: the same ASL run by the local
workflow runner in a background thread, then ``on_finished`` (e.g. deliver the stream to the index).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Literal, Protocol

from llm_twin.collection.events import CollectionRequest
from llm_twin.settings import Settings

PendingState = Literal["starting", "failed"]


class CollectionStarter(Protocol):
    def start(self, request: CollectionRequest) -> None:
        """Start the workflow for ``request`` (``request.run_id`` is set); return without waiting."""
        ...

    def pending_state(self, run_id: str) -> PendingState | None:
        """For a run the warehouse does not know: ``starting``, ``failed`` (ended before recording
        it) or None (never started here: unknown run)."""
        ...


def _payload(request: CollectionRequest) -> dict[str, Any]:
    return request.model_dump(mode="json", exclude_none=True)


class StepFunctionsStarter:
    def __init__(self, settings: Settings) -> None:
        if not settings.collection_state_machine_arn:
            raise ValueError("LLM_TWIN_COLLECTION_STATE_MACHINE_ARN is not set")
        self._settings = settings
        self._arn = settings.collection_state_machine_arn

    def _client(self) -> Any:
        from llm_twin.local.clients import aws_client

        return aws_client("stepfunctions", self._settings)

    def start(self, request: CollectionRequest) -> None:
        self._client().start_execution(
            stateMachineArn=self._arn, name=request.run_id, input=json.dumps(_payload(request))
        )

    def execution_arn(self, run_id: str) -> str:
        """``arn:aws:states:<region>:<account>:stateMachine:<name>`` -> ``...:execution:<name>:<run>``."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{run_id}"

    def pending_state(self, run_id: str) -> PendingState | None:
        client = self._client()
        try:
            status = client.describe_execution(executionArn=self.execution_arn(run_id))["status"]
        except client.exceptions.ExecutionDoesNotExist:
            return None
        return "starting" if status in ("RUNNING", "PENDING_REDRIVE") else "failed"


RunWorkflow = Callable[[CollectionRequest], Any]


class LocalCollectionStarter:
    """Runs each collection in a daemon thread; ``on_finished(run_id)`` is called after each run (even a
    failed one) — the local server uses it to deliver the table's stream to the feature index."""

    def __init__(
        self,
        settings: Settings,
        on_finished: Callable[[str], None] | None = None,
        run: RunWorkflow | None = None,
    ) -> None:
        self._settings = settings
        self._on_finished = on_finished
        self._run = run or self._run_asl
        self._lock = threading.Lock()
        self._states: dict[str, PendingState] = {}
        self._threads: dict[str, threading.Thread] = {}

    def _run_asl(self, request: CollectionRequest) -> Any:
        from llm_twin.local.workflows import run_workflow
        from llm_twin.workflows.catalog import COLLECTION

        return run_workflow(COLLECTION, _payload(request), self._settings, name=request.run_id)

    def start(self, request: CollectionRequest) -> None:
        run_id = str(request.run_id)
        thread = threading.Thread(
            target=self._execute, args=(request,), name=f"collect-{run_id}", daemon=True
        )
        with self._lock:
            self._states[run_id] = "starting"
            self._threads[run_id] = thread
        thread.start()

    def _execute(self, request: CollectionRequest) -> None:
        from llm_twin.observability import logger

        run_id = str(request.run_id)
        try:
            execution = self._run(request)
            failed = getattr(execution, "status", "SUCCEEDED") != "SUCCEEDED"
        except Exception:
            logger.exception("local collection run crashed", run_id=run_id)
            failed = True
        with self._lock:
            self._states[run_id] = "failed" if failed else "starting"
        if self._on_finished is not None:
            try:
                self._on_finished(run_id)
            except Exception:
                logger.exception("after-collection hook failed", run_id=run_id)

    def pending_state(self, run_id: str) -> PendingState | None:
        with self._lock:
            return self._states.get(run_id)

    def wait(self, run_id: str | None = None, timeout: float | None = None) -> bool:
        """Join one run's thread (or all); True when nothing is still running."""
        with self._lock:
            threads = [self._threads[run_id]] if run_id in self._threads else list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)
