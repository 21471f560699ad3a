"""A local Step Functions runner: executes the ASL definition AWS runs, with Lambda tasks routed to our
Python handlers, so a test of a workflow tests the definition that is deployed.

    definition = load_definition(COLLECTION_ASL, {"CrawlFunctionArn": "collect-crawl", ...})
    machine = LocalStateMachine(definition, {"collect-crawl": crawl.handler, ...})
    execution = machine.execute({"author": "...", "links": [...]})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)

Supported: Task (``arn:aws:states:::lambda:invoke`` and the legacy ``Resource: <function ARN>``), Pass,
Choice, Wait, Succeed, Fail, Map (inline; ItemSelector/Parameters, ItemProcessor/Iterator,
MaxConcurrency/MaxConcurrencyPath) and Parallel; Retry and Catch; InputPath, Parameters, ResultSelector,
ResultPath, OutputPath; the context object (``$$``); intrinsic functions. Each module of this package
documents the AWS semantics it follows (failures: error matching and retries, dataflow: input/output
processing, choice, intrinsics, jsonpath, lambda_invoke).

Distributed Map (``ProcessorConfig: {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}``): items from
ItemsPath or an ItemReader (``arn:aws:states:::s3:getObject``, ``InputType: JSON``, MaxItems(Path),
Bucket/Key/VersionId parameters) read from S3 through ``s3_client`` (default: the project's
``aws_client("s3", Settings())``, i.e. moto locally); each item runs as a child execution with its own
context object (``$$.Execution`` of the child) and its events tagged ``child_execution``; MaxConcurrency(Path)
(0: AWS's 10,000); ToleratedFailureCount/Percentage(Path): failed children are counted and the Map
fails with States.ExceedToleratedFailureThreshold once there are more than tolerated (none tolerated by
default), which stops the remaining children; without a failure the other children run on. A
ResultWriter (``arn:aws:states:::s3:putObject``, Bucket/Prefix) writes ``<Prefix>/<map run id>/``
``manifest.json`` and ``SUCCEEDED_0.json``/``FAILED_0.json`` as AWS does, and the Map's result is then
``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``; without one the result is the children's
outputs in item order (a failed child's: ``{"Error", "Cause"}``), and more than 256 KiB of it fails with
States.DataLimitExceeded. Errors: States.ItemReaderFailed, States.ResultWriterFailed.

Deliberately not supported (rejected when the machine is built, see definitions.py): JSONata, variables
(Assign), ItemBatcher, ItemReader sources other than one JSON object (CSV, JSONL, S3 listings, manifests),
ResultWriter's WriterConfig, EXPRESS child executions, tolerated failures on an INLINE Map, task types other
than Lambda, heartbeats, ``.waitForTaskToken``.

Differences from AWS to keep in mind:
- Timeouts are soft. A Task's TimeoutSeconds cannot interrupt a Python handler: a handler that ran longer
  fails the attempt with States.Timeout once it returns (its result is discarded). The execution's
  TimeoutSeconds is checked between states (and after waits/retry sleeps): the execution then ends
  TIMED_OUT. Durations come from ``clock`` (``time.monotonic``), so a test can drive them.
- An inline Map runs at most 40 iterations at once, as in AWS (``max_workers`` can lower that). When an
  iteration or branch fails, iterations not yet started are cancelled and running ones stop at their
  next state; the Map/Parallel state fails with the first error.
- A Distributed Map runs its children on at most 100 threads (``max_workers`` can lower that), whatever
  MaxConcurrency allows above that; children are not separate executions (no StartExecution, no
  DescribeExecution), and there is no redrive.
- Waits and retry backoff call the injected ``sleep``; FULL jitter draws from ``rng``.
- States' payloads are limited to 256 KiB like AWS (States.DataLimitExceeded); ``payload_limit_bytes=None``
  lifts the limit.
- ``lambda:invoke``'s InvocationType and Qualifier are not acted on: every call is a synchronous call of
  the registered handler.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llm_twin.workflows import history as h
from llm_twin.workflows.choice import choose, parse_timestamp
from llm_twin.workflows.dataflow import apply_result_path, check_size, render, resolve, select
from llm_twin.workflows.definitions import load_definition, validate_definition
from llm_twin.workflows.failures import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    ITEM_READER_FAILED,
    RESULT_WRITER_FAILED,
    TIMEOUT,
    DefinitionError,
    RetryState,
    StatesError,
    UnsupportedFeatureError,
    error_matches,
    runtime_error,
)
from llm_twin.workflows.history import Execution, HistoryEvent
from llm_twin.workflows.lambda_invoke import (
    OPTIMIZED_INVOKE,
    Handler,
    LambdaContext,
    LambdaRegistry,
    invoke_response,
)

__all__ = [
    "DefinitionError",
    "Execution",
    "HistoryEvent",
    "LambdaContext",
    "LocalStateMachine",
    "StatesError",
    "UnsupportedFeatureError",
    "load_definition",
]

INLINE_MAP_MAX_CONCURRENCY = 40
DISTRIBUTED_MAP_MAX_CONCURRENCY = 10_000  # AWS's default when MaxConcurrency is 0
DISTRIBUTED_MAP_LOCAL_THREADS = 100  # local threads running child executions at once
PAYLOAD_LIMIT_BYTES = 256 * 1024
LAMBDA_MAX_TIMEOUT_SECONDS = 900  # the Lambda context's deadline when the Task sets no TimeoutSeconds

State = Mapping[str, Any]  # one state of the definition
Transition = tuple[Any, str | None]  # a state's output and the next state's name (None: the end)
Context = Mapping[str, Any]  # the context object, what $$ selects from


class LocalStateMachine:
    """A state machine definition bound to local Lambda handlers.

    ``lambda_functions`` maps function names (or ARNs: only the name part counts) to handlers called as
    ``handler(event, context)``. The definition is validated here: DefinitionError for invalid ASL,
    UnsupportedFeatureError (a NotImplementedError) for what this runner does not implement.

    Options: ``sleep`` is called for Wait states and retry backoff; ``max_workers`` caps the threads of
    each Map or Parallel state (each nested one has its own pool); ``name``, ``region`` and
    ``account_id`` make the ARNs in the context object; ``rng`` draws FULL jitter (seed it in tests);
    ``clock`` measures timeouts; ``payload_limit_bytes`` is the 256 KiB payload quota (None: no limit);
    ``s3_client`` (a boto3 S3 client) serves Distributed Map ItemReader/ResultWriter (default: created on
    first use with the project's ``aws_client`` from the environment's settings).
    """

    def __init__(
        self,
        definition: Mapping[str, Any],
        lambda_functions: Mapping[str, Handler],
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int | None = None,
        name: str = "local-state-machine",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        payload_limit_bytes: int | None = PAYLOAD_LIMIT_BYTES,
        s3_client: Any = None,
    ) -> None:
        validate_definition(definition)
        self.definition: dict[str, Any] = copy.deepcopy(dict(definition))
        self.name = name
        self.arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
        self.lambdas = LambdaRegistry.of(lambda_functions, region, account_id)
        self.sleep = sleep
        self.max_workers = max_workers
        self.rng = rng or random.Random()
        self.clock = clock
        self.payload_limit_bytes = payload_limit_bytes
        self.region = region
        self.account_id = account_id
        self._s3 = s3_client
        self._s3_lock = threading.Lock()
        self._execution_prefix = f"arn:aws:states:{region}:{account_id}:execution:{name}"

    @property
    def s3(self) -> Any:
        """The S3 client of Distributed Map ItemReader/ResultWriter."""
        with self._s3_lock:
            if self._s3 is None:
                from llm_twin.local.clients import aws_client
                from llm_twin.settings import Settings

                self._s3 = aws_client("s3", Settings())
            return self._s3

    def execute(self, input: Any = None, name: str | None = None) -> Execution:
        """Run one execution to its end and return its status, output or error, and history."""
        name = name or str(uuid.uuid4())
        execution_input = json.loads(json.dumps({} if input is None else input))
        return _Interpreter(self, f"{self._execution_prefix}:{name}", name, execution_input).run()


class _Aborted(Exception):
    """Raised in an iteration or branch whose sibling failed: it stops without an error of its own."""


class _ExecutionTimedOut(Exception):
    """The execution ran past the definition's TimeoutSeconds (never caught by Catch)."""


@dataclass(frozen=True)
class _Scope:
    """Where a state runs: the top level, or an iteration/branch (with the abort flags of its ancestors);
    inside a Distributed Map child execution also that child's name and context object."""

    label: str = ""
    aborts: tuple[threading.Event, ...] = ()
    child_execution: str | None = None
    context: Context | None = None  # the child execution's context object (None: the execution's)

    def child(self, label: str, abort: threading.Event) -> _Scope:
        label = f"{self.label}/{label}" if self.label else label
        return _Scope(label, (*self.aborts, abort), self.child_execution, self.context)

    def child_execution_scope(
        self, label: str, abort: threading.Event, name: str, context: Context
    ) -> _Scope:
        label = f"{self.label}/{label}" if self.label else label
        return _Scope(label, (*self.aborts, abort), name, context)

    @property
    def aborted(self) -> bool:
        return any(flag.is_set() for flag in self.aborts)


class _Interpreter:
    """One execution of a LocalStateMachine."""

    def __init__(self, machine: LocalStateMachine, execution_arn: str, name: str, input: Any) -> None:
        self.machine = machine
        self.execution_arn = execution_arn
        self.name = name
        self.input = input
        self.started = datetime.now(UTC)
        self.recorder = h.Recorder()
        timeout = machine.definition.get("TimeoutSeconds")
        self.deadline = machine.clock() + timeout if timeout else None
        self.context = {
            "Execution": {
                "Id": execution_arn,
                "Input": input,
                "Name": name,
                "RoleArn": f"arn:aws:iam::{machine.lambdas.account_id}:role/local-state-machine",
                "StartTime": h.iso_timestamp(self.started),
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": machine.arn, "Name": machine.name},
        }
        self._handlers: dict[str, Callable[..., Transition]] = {
            "Task": self._task,
            "Pass": self._pass,
            "Choice": self._choice,
            "Wait": self._wait,
            "Succeed": self._succeed,
            "Fail": self._fail,
            "Map": self._map,
            "Parallel": self._parallel,
        }

    def run(self) -> Execution:
        self.recorder.record(h.EXECUTION_STARTED, input=self.input)
        result: dict[str, Any]
        try:
            output = self._run_machine(self.machine.definition, self.input, _Scope())
        except _ExecutionTimedOut:
            timeout = self.machine.definition["TimeoutSeconds"]
            cause = f"The execution ran longer than its TimeoutSeconds ({timeout} s)"
            self.recorder.record(h.EXECUTION_TIMED_OUT, error=TIMEOUT, cause=cause)
            result = {"status": "TIMED_OUT", "error": TIMEOUT, "cause": cause}
        except StatesError as error:
            self.recorder.record(h.EXECUTION_FAILED, error=error.error, cause=error.cause)
            result = {"status": "FAILED", "error": error.error or None, "cause": error.cause}
        else:
            self.recorder.record(h.EXECUTION_SUCCEEDED, output=output)
            result = {"status": "SUCCEEDED", "output": output}
        return Execution(
            execution_arn=self.execution_arn,
            name=self.name,
            input=self.input,
            start_date=self.started,
            stop_date=datetime.now(UTC),
            events=self.recorder.events,
            **result,
        )

    # --- driving states ---------------------------------------------------------------------------

    def _run_machine(self, machine: State, data: Any, scope: _Scope) -> Any:
        name: str | None = machine["StartAt"]
        while name is not None:
            data, name = self._run_state(name, machine["States"][name], data, scope)
        return data

    def _run_state(self, name: str, state: State, raw: Any, scope: _Scope) -> Transition:
        self._checkpoint(scope)
        entered = h.iso_timestamp(datetime.now(UTC))
        self._record(h.STATE_ENTERED, name, scope, input=raw)
        retries = RetryState(state.get("Retry", []))
        while True:
            state_context = {"EnteredTime": entered, "Name": name, "RetryCount": retries.retry_count}
            context = {**(scope.context or self.context), "State": state_context}
            try:
                output, next_name = self._handlers[state["Type"]](name, state, raw, context, scope)
                check_size(output, self.machine.payload_limit_bytes, f"The output of state '{name}'")
                break
            except StatesError as error:
                delay = retries.next_delay(error, self.machine.rng)
                if delay is not None:
                    retry = retries.retry_count
                    self._record(
                        h.RETRY_SCHEDULED, name, scope, error=error.error, retry=retry, delay_seconds=delay
                    )
                    self._sleep(delay, scope)
                    continue
                catchers = state.get("Catch", [])
                catcher = next((c for c in catchers if error_matches(c["ErrorEquals"], error)), None)
                if catcher is None:
                    self._record(h.STATE_FAILED, name, scope, error=error.error, cause=error.cause)
                    raise
                output = apply_result_path(raw, catcher.get("ResultPath", "$"), error.as_output())
                next_name = catcher["Next"]
                self._record(
                    h.ERROR_CAUGHT, name, scope, error=error.error, cause=error.cause, next=next_name
                )
                break
        self._record(h.STATE_EXITED, name, scope, output=output)
        return output, next_name

    def _checkpoint(self, scope: _Scope) -> None:
        if self.deadline is not None and self.machine.clock() > self.deadline:
            raise _ExecutionTimedOut
        if scope.aborted:
            raise _Aborted

    def _sleep(self, seconds: float, scope: _Scope) -> None:
        if seconds > 0:
            self.machine.sleep(seconds)
        self._checkpoint(scope)

    def _record(self, event_type: str, state: str, scope: _Scope, **details: Any) -> None:
        self.recorder.record(event_type, state, scope.label, scope.child_execution, **details)

    # --- input and output processing shared by the states ---------------------------------------

    @staticmethod
    def _effective_input(state: State, raw: Any, context: Context) -> Any:
        """InputPath, then Parameters."""
        data = select(state.get("InputPath", "$"), raw, context, field="InputPath")
        return render(state["Parameters"], data, context) if "Parameters" in state else data

    @staticmethod
    def _state_output(state: State, raw: Any, result: Any, context: Context) -> Any:
        """ResultSelector (for Task, Map, Parallel), ResultPath, then OutputPath."""
        if "ResultSelector" in state:
            result = render(state["ResultSelector"], result, context)
        combined = apply_result_path(raw, state.get("ResultPath", "$"), result)
        return select(state.get("OutputPath", "$"), combined, context, field="OutputPath")

    # --- the state types --------------------------------------------------------------------------

    def _pass(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = self._effective_input(state, raw, context)
        result = state.get("Result", data)
        return self._state_output(state, raw, result, context), state.get("Next")

    def _task(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        parameters = self._effective_input(state, raw, context)
        check_size(parameters, self.machine.payload_limit_bytes, f"The input of state '{name}'")
        timeout = self._task_timeout(state, raw, context)
        result = self._invoke(name, state["Resource"], parameters, timeout, scope)
        return self._state_output(state, raw, result, context), state.get("Next")

    def _invoke(self, name: str, resource: str, parameters: Any, timeout: float | None, scope: _Scope) -> Any:
        """Call the Lambda handler of a Task; returns the task's result (before ResultSelector)."""
        if resource == OPTIMIZED_INVOKE:
            function, payload = parameters.get("FunctionName"), parameters.get("Payload", {})
            if not isinstance(function, str):
                raise runtime_error(f"FunctionName must be a string, got {function!r}")
        else:
            function, payload = resource, parameters
        self._record(h.TASK_SCHEDULED, name, scope, resource=resource, function=function, payload=payload)
        started = self.machine.clock()
        try:
            result = self.machine.lambdas.invoke(
                function,
                payload,
                timeout_seconds=timeout or LAMBDA_MAX_TIMEOUT_SECONDS,
                clock=self.machine.clock,
            )
            if timeout is not None and self.machine.clock() - started > timeout:
                raise StatesError(TIMEOUT, f"The task ran longer than its TimeoutSeconds ({timeout} s)")
            check_size(result, self.machine.payload_limit_bytes, f"The result of task '{name}'")
        except StatesError as error:
            self._record(h.TASK_FAILED, name, scope, error=error.error, cause=error.cause)
            raise
        if resource == OPTIMIZED_INVOKE:
            result = invoke_response(result)
        self._record(h.TASK_SUCCEEDED, name, scope, output=result)
        return result

    @staticmethod
    def _task_timeout(state: State, raw: Any, context: Context) -> float | None:
        if "TimeoutSecondsPath" not in state:
            return state.get("TimeoutSeconds")
        value = resolve(state["TimeoutSecondsPath"], raw, context, field="TimeoutSecondsPath")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise runtime_error(f"TimeoutSecondsPath must select a positive integer, got {value!r}")
        return value

    def _choice(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = select(state.get("InputPath", "$"), raw, context, field="InputPath")
        next_name = choose(state, data, context)
        return select(state.get("OutputPath", "$"), data, context, field="OutputPath"), next_name

    def _wait(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = select(state.get("InputPath", "$"), raw, context, field="InputPath")
        seconds = self._wait_seconds(state, data, context)
        self._record(h.WAIT_STARTED, name, scope, seconds=seconds)
        self._sleep(seconds, scope)
        return select(state.get("OutputPath", "$"), data, context, field="OutputPath"), state.get("Next")

    @staticmethod
    def _wait_seconds(state: State, data: Any, context: Context) -> float:
        if "Seconds" in state:
            return state["Seconds"]
        if "SecondsPath" in state:
            seconds = resolve(state["SecondsPath"], data, context, field="SecondsPath")
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise runtime_error(f"SecondsPath must select a non-negative integer, got {seconds!r}")
            return seconds
        text = state.get("Timestamp") or resolve(state["TimestampPath"], data, context, field="TimestampPath")
        moment = parse_timestamp(text)
        if moment is None:
            raise runtime_error(f"The Wait state's timestamp {text!r} is not an RFC 3339 timestamp")
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())

    def _succeed(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = select(state.get("InputPath", "$"), raw, context, field="InputPath")
        return select(state.get("OutputPath", "$"), data, context, field="OutputPath"), None

    def _fail(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        error, cause = state.get("Error"), state.get("Cause")
        if "ErrorPath" in state:
            error = resolve(state["ErrorPath"], raw, context, field="ErrorPath")
        if "CausePath" in state:
            cause = resolve(state["CausePath"], raw, context, field="CausePath")
        if not isinstance(error, str | None) or not isinstance(cause, str | None):
            raise runtime_error(f"A Fail state's error and cause must be strings: {error!r}, {cause!r}")
        raise StatesError(error or "", cause)

    def _map(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = select(state.get("InputPath", "$"), raw, context, field="InputPath")
        processor = state.get("ItemProcessor", state.get("Iterator"))
        distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        if "ItemReader" in state:
            items = self._read_items(state["ItemReader"], data, context)
        else:
            items = select(state.get("ItemsPath", "$"), data, context, field="ItemsPath")
        if not isinstance(items, list):
            raise runtime_error(f"The Map state's items must be an array, got {json.dumps(items)[:200]}")
        selector = state.get("ItemSelector", state.get("Parameters"))
        inputs = items
        if selector is not None:  # $$.Map.Item exists only while the selector is rendered
            inputs = [
                render(selector, data, {**context, "Map": {"Item": {"Index": index, "Value": item}}})
                for index, item in enumerate(items)
            ]
        limit = self._max_concurrency(state, data, context)
        if distributed:
            result = _MapRun(self, name, state, data, context, scope).run(processor, inputs, limit)
        else:
            result = self._fan_out(name, [(processor, item) for item in inputs], limit, scope)
        return self._state_output(state, raw, result, context), state.get("Next")

    def _read_items(self, reader: State, data: Any, context: Context) -> list[Any]:
        """ItemReader ``arn:aws:states:::s3:getObject`` with ``InputType: JSON``: the object's JSON array."""
        from botocore.exceptions import BotoCoreError, ClientError

        parameters = render(reader["Parameters"], data, context)
        request = {
            name: parameters.get(name) for name in ("Bucket", "Key", "VersionId") if name in parameters
        }
        if not all(isinstance(value, str) and value for value in request.values()):
            raise runtime_error(f"The ItemReader's Bucket, Key and VersionId must be strings, got {request}")
        where = f"s3://{request['Bucket']}/{request['Key']}"
        try:
            body = self.machine.s3.get_object(**request)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StatesError(ITEM_READER_FAILED, f"Reading {where} failed: {exc}") from None
        try:
            items = json.loads(body)
        except ValueError as exc:
            raise StatesError(ITEM_READER_FAILED, f"{where} is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise StatesError(
                ITEM_READER_FAILED, f"{where} must hold a JSON array, got {type(items).__name__}"
            )
        config = reader["ReaderConfig"]
        max_items = config.get("MaxItems")
        if "MaxItemsPath" in config:
            max_items = resolve(config["MaxItemsPath"], data, context, field="MaxItemsPath")
            if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 0:
                raise runtime_error(f"MaxItemsPath must select a non-negative integer, got {max_items!r}")
        return items[:max_items] if max_items else items

    @staticmethod
    def _max_concurrency(state: State, data: Any, context: Context) -> int:
        if "MaxConcurrencyPath" not in state:
            return state.get("MaxConcurrency", 0)
        limit = resolve(state["MaxConcurrencyPath"], data, context, field="MaxConcurrencyPath")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise runtime_error(f"MaxConcurrencyPath must select a non-negative integer, got {limit!r}")
        return limit

    def _parallel(self, name: str, state: State, raw: Any, context: Context, scope: _Scope) -> Transition:
        data = self._effective_input(state, raw, context)
        branches = state["Branches"]
        results = self._fan_out(name, [(branch, data) for branch in branches], len(branches), scope)
        return self._state_output(state, raw, results, context), state.get("Next")

    def _fan_out(self, name: str, jobs: list[tuple[State, Any]], limit: int, scope: _Scope) -> list[Any]:
        """Run sub-machines (Map iterations, Parallel branches) on a thread pool; outputs in input order.

        ``limit`` is the Map's MaxConcurrency (0: the inline Map maximum of 40). The first failure aborts
        the others and is raised once every started job has stopped.
        """
        if not jobs:
            return []
        workers = min(len(jobs), limit or INLINE_MAP_MAX_CONCURRENCY, self.machine.max_workers or len(jobs))
        abort = threading.Event()
        failures: list[BaseException] = []
        lock = threading.Lock()

        def run_job(index: int, machine: State, data: Any) -> Any:
            child = scope.child(f"{name}[{index}]", abort)
            self._record(h.ITERATION_STARTED, name, child, index=index)
            try:
                output = self._run_machine(machine, data, child)
            except _Aborted:
                self._record(h.ITERATION_ABORTED, name, child, index=index)
                raise
            except BaseException as exc:
                details = {"error": exc.error, "cause": exc.cause} if isinstance(exc, StatesError) else {}
                self._record(h.ITERATION_FAILED, name, child, index=index, **details)
                with lock:
                    failures.append(exc)
                abort.set()
                raise
            self._record(h.ITERATION_SUCCEEDED, name, child, index=index)
            return output

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sfn-{name}") as pool:
            futures = [pool.submit(run_job, index, *job) for index, job in enumerate(jobs)]
            wait(futures, return_when=FIRST_EXCEPTION)
            if abort.is_set():
                for future in futures:
                    future.cancel()
        if failures:
            raise failures[0]
        return [future.result() for future in futures]


@dataclass
class _Child:
    """One child execution of a Distributed Map run."""

    index: int
    name: str
    arn: str
    input: Any
    status: str = "PENDING"  # SUCCEEDED | FAILED | ABORTED (stopped: the run failed or was aborted)
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started: datetime | None = None
    stopped: datetime | None = None


@dataclass
class _MapRun:
    """A Distributed Map state's run: its child executions, failure threshold and result export."""

    interpreter: _Interpreter
    name: str
    state: State
    data: Any  # the Map's effective input (after InputPath): what ItemReader/ResultWriter paths select from
    context: Context
    scope: _Scope
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        machine = self.interpreter.machine
        self.label = self.state.get("Label", self.name)
        prefix = f"arn:aws:states:{machine.region}:{machine.account_id}"
        self.arn = f"{prefix}:mapRun:{machine.name}/{self.label}:{self.run_id}"
        self.child_prefix = f"{prefix}:execution:{machine.name}/{self.label}"
        self.child_state_machine = {
            "Id": f"{machine.arn}/{self.label}",
            "Name": f"{machine.name}/{self.label}",
        }
        self.count, self.percentage = self._tolerance()

    def run(self, processor: State, inputs: list[Any], limit: int) -> Any:
        machine = self.interpreter.machine
        children = [self._child(index, item) for index, item in enumerate(inputs)]
        self._record_run(h.MAP_RUN_STARTED, items=len(children), max_concurrency=limit)
        abort = threading.Event()
        fatal: list[BaseException] = []
        failed = 0
        lock = threading.Lock()

        def run_child(child: _Child) -> None:
            nonlocal failed
            child.started = datetime.now(UTC)
            scope = self.scope.child_execution_scope(
                f"{self.name}[{child.index}]", abort, child.name, self._child_context(child)
            )
            self.interpreter._record(h.ITERATION_STARTED, self.name, scope, index=child.index)
            try:
                check_size(
                    child.input, machine.payload_limit_bytes, f"The input of child execution {child.name}"
                )
                child.output = self.interpreter._run_machine(processor, child.input, scope)
                child.status = "SUCCEEDED"
                self.interpreter._record(h.ITERATION_SUCCEEDED, self.name, scope, index=child.index)
            except _Aborted:
                child.status = "ABORTED"
                self.interpreter._record(h.ITERATION_ABORTED, self.name, scope, index=child.index)
            except StatesError as error:
                child.status, child.error, child.cause = "FAILED", error.error, error.cause
                self.interpreter._record(
                    h.ITERATION_FAILED,
                    self.name,
                    scope,
                    index=child.index,
                    error=error.error,
                    cause=error.cause,
                )
                with lock:
                    failed += 1
                    if self._exceeded(failed, len(children)):
                        abort.set()
            except BaseException as exc:  # the execution timed out (or a bug): the whole execution ends
                child.status = "ABORTED"
                with lock:
                    fatal.append(exc)
                abort.set()
            finally:
                child.stopped = datetime.now(UTC)

        if children:
            workers = min(
                len(children),
                limit or DISTRIBUTED_MAP_MAX_CONCURRENCY,
                machine.max_workers or DISTRIBUTED_MAP_LOCAL_THREADS,
            )
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sfn-{self.name}") as pool:
                futures = [pool.submit(run_child, child) for child in children]
                for _done in as_completed(futures):
                    if abort.is_set():
                        for future in futures:
                            future.cancel()
        if fatal:
            raise fatal[0]
        if self.scope.aborted:
            raise _Aborted
        counts = {status: sum(c.status == status for c in children) for status in ("SUCCEEDED", "FAILED")}
        counts["ABORTED"] = len(children) - counts["SUCCEEDED"] - counts["FAILED"]
        exceeded = self._exceeded(failed, len(children))
        result = self._write_results(children) if "ResultWriter" in self.state else None
        if exceeded:
            tolerated = f"count {self.count}, percentage {self.percentage}"
            cause = f"The Map Run {self.arn} failed: {failed} of {len(children)} items failed ({tolerated})"
            self._record_run(
                h.MAP_RUN_FAILED, counts=counts, error=EXCEED_TOLERATED_FAILURE_THRESHOLD, cause=cause
            )
            raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, cause)
        self._record_run(h.MAP_RUN_SUCCEEDED, counts=counts)
        if result is None:
            result = [
                c.output if c.status == "SUCCEEDED" else {"Error": c.error or "", "Cause": c.cause or ""}
                for c in children
            ]
            check_size(result, machine.payload_limit_bytes, f"The result of Map state '{self.name}'")
        return result

    def _child(self, index: int, item: Any) -> _Child:
        name = str(uuid.uuid4())
        return _Child(index=index, name=name, arn=f"{self.child_prefix}:{name}", input=item)

    def _child_context(self, child: _Child) -> dict[str, Any]:
        parent = self.interpreter.context["Execution"]
        return {
            "Execution": {
                "Id": child.arn,
                "Input": child.input,
                "Name": child.name,
                "RoleArn": parent["RoleArn"],
                "StartTime": h.iso_timestamp(child.started or datetime.now(UTC)),
                "RedriveCount": 0,
            },
            "StateMachine": self.child_state_machine,
        }

    def _record_run(self, event_type: str, **details: Any) -> None:
        self.interpreter._record(event_type, self.name, self.scope, map_run_arn=self.arn, **details)

    # --- tolerated failures -----------------------------------------------------------------------

    def _tolerance(self) -> tuple[int | None, float | None]:
        state, data, context = self.state, self.data, self.context
        count = state.get("ToleratedFailureCount")
        if "ToleratedFailureCountPath" in state:
            count = resolve(
                state["ToleratedFailureCountPath"], data, context, field="ToleratedFailureCountPath"
            )
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise runtime_error(
                    f"ToleratedFailureCountPath must select a non-negative integer, got {count!r}"
                )
        percentage = state.get("ToleratedFailurePercentage")
        if "ToleratedFailurePercentagePath" in state:
            field_name = "ToleratedFailurePercentagePath"
            percentage = resolve(state[field_name], data, context, field=field_name)
            valid = isinstance(percentage, int | float) and not isinstance(percentage, bool)
            if not valid or not 0 <= percentage <= 100:
                raise runtime_error(f"{field_name} must select a number in 0..100, got {percentage!r}")
        return count, percentage

    def _exceeded(self, failed: int, total: int) -> bool:
        """More failed children than tolerated (nothing is tolerated unless a threshold is set)."""
        if self.count is None and self.percentage is None:
            return failed > 0
        over_count = self.count is not None and failed > self.count
        over_percentage = self.percentage is not None and failed * 100 > self.percentage * total
        return over_count or over_percentage

    # --- ResultWriter -----------------------------------------------------------------------------

    def _write_results(self, children: list[_Child]) -> dict[str, Any]:
        """Export the children's results as AWS does: ``<Prefix>/<map run id>/`` gets one file per status
        (``SUCCEEDED_0.json``, ``FAILED_0.json``, ``PENDING_0.json``) and ``manifest.json``."""
        from botocore.exceptions import BotoCoreError, ClientError

        parameters = render(self.state["ResultWriter"]["Parameters"], self.data, self.context)
        bucket, prefix = parameters.get("Bucket"), parameters.get("Prefix", "")
        if not isinstance(bucket, str) or not bucket or not isinstance(prefix, str):
            raise runtime_error(f"The ResultWriter's Bucket and Prefix must be strings, got {parameters}")
        base = f"{prefix.rstrip('/')}/{self.run_id}" if prefix else self.run_id
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        statuses = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "ABORTED": "PENDING", "PENDING": "PENDING"}
        s3 = self.interpreter.machine.s3
        try:
            for status in files:
                entries = [self._entry(c) for c in children if statuses[c.status] == status]
                if entries:
                    key = f"{base}/{status}_0.json"
                    body = json.dumps(entries, ensure_ascii=False).encode()
                    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
                    files[status].append({"Key": key, "Size": len(body)})
            manifest_key = f"{base}/manifest.json"
            manifest = {"DestinationBucket": bucket, "MapRunArn": self.arn, "ResultFiles": files}
            s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        except (BotoCoreError, ClientError) as exc:
            raise StatesError(
                RESULT_WRITER_FAILED, f"Writing the results to s3://{bucket}/{base}/ failed: {exc}"
            ) from None
        return {"MapRunArn": self.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}

    def _entry(self, child: _Child) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ExecutionArn": child.arn,
            "Input": json.dumps(child.input, ensure_ascii=False),
            "InputDetails": {"Included": True},
            "Name": child.name,
            "StateMachineArn": self.child_state_machine["Id"],
            "Status": {"ABORTED": "ABORTED", "PENDING": "PENDING"}.get(child.status, child.status),
            "RedriveCount": 0,
        }
        if child.started:
            entry["StartDate"] = h.iso_timestamp(child.started)
        if child.stopped:
            entry["StopDate"] = h.iso_timestamp(child.stopped)
        if child.status == "SUCCEEDED":
            entry["Output"] = json.dumps(child.output, ensure_ascii=False)
            entry["OutputDetails"] = {"Included": True}
        elif child.status == "FAILED":
            entry["Error"], entry["Cause"] = child.error or "", child.cause or ""
        return entry
