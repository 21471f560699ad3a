"""Loading an ASL definition (with CDK's ``DefinitionSubstitutions``) and checking it before it runs.

:func:`validate_definition` rejects what AWS would reject at CreateStateMachine (DefinitionError) and
what this runner does not implement (UnsupportedFeatureError), so a run never stops half-way on a
definition problem.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llm_twin.workflows import choice, intrinsics, jsonpath
from llm_twin.workflows.failures import ALL, DefinitionError, UnsupportedFeatureError
from llm_twin.workflows.lambda_invoke import OPTIMIZED_INVOKE, is_lambda_arn

# CloudFormation's DefinitionSubstitutions syntax: ${Name}.
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")

STATE_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel"})
_TERMINAL_TYPES = frozenset({"Succeed", "Fail"})
_HANDLES_ERRORS = frozenset({"Task", "Map", "Parallel"})
_PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath", "MaxConcurrencyPath", "SecondsPath", "TimestampPath")
_NULLABLE_PATHS = ("InputPath", "OutputPath")  # null selects {}
_TEMPLATE_FIELDS = ("Parameters", "ItemSelector", "ResultSelector")
_UNSUPPORTED_FIELDS = {
    "Assign": "workflow variables (Assign)",
    "Arguments": "JSONata (Arguments)",
    "Output": "JSONata (Output)",
    "Credentials": "cross-account task Credentials",
    "HeartbeatSeconds": "task heartbeats",
    "HeartbeatSecondsPath": "task heartbeats",
    "ItemBatcher": "Distributed Map batching (ItemBatcher)",
}

S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT = "arn:aws:states:::s3:putObject"
# Fields of a Map in Distributed mode (ProcessorConfig.Mode DISTRIBUTED) only.
_DISTRIBUTED_FIELDS = {
    "ItemReader": "Distributed Map fields (ItemReader)",
    "ResultWriter": "Distributed Map fields (ResultWriter)",
    "Label": "Distributed Map fields (Label)",
    "ToleratedFailurePercentage": "tolerated failures",
    "ToleratedFailurePercentagePath": "tolerated failures",
    "ToleratedFailureCount": "tolerated failures",
    "ToleratedFailureCountPath": "tolerated failures",
}


def load_definition(
    path_or_text: str | os.PathLike[str], substitutions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Read an ASL definition (a file path or the JSON text) and fill its ``${Name}`` placeholders.

    Substitution is textual, before the JSON is parsed, as CloudFormation applies
    DefinitionSubstitutions. A placeholder without a substitution raises DefinitionError naming it.
    """
    text = str(path_or_text)
    if isinstance(path_or_text, os.PathLike) or not text.lstrip().startswith("{"):
        text = Path(path_or_text).read_text(encoding="utf-8")
    values = dict(substitutions or {})
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise DefinitionError(f"no substitution for placeholder(s): {', '.join(missing)}")
    text = _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"the definition is not valid JSON after substitution: {exc}") from None
    if not isinstance(definition, dict):
        raise DefinitionError("the definition must be a JSON object")
    return definition


def validate_definition(definition: Mapping[str, Any]) -> None:
    """Raise DefinitionError or UnsupportedFeatureError for a definition this runner cannot execute."""
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise UnsupportedFeatureError("only the JSONPath query language is supported, not JSONata")
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None and not _positive_int(timeout):
        raise DefinitionError("TimeoutSeconds must be a positive integer")
    _validate_machine(definition, "")


def _validate_machine(machine: Mapping[str, Any], where: str) -> None:
    states = machine.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError(f"{where or 'definition'}: States must be a non-empty object")
    if machine.get("StartAt") not in states:
        raise DefinitionError(f"{where or 'definition'}: StartAt {machine.get('StartAt')!r} is not a state")
    for name, state in states.items():
        _validate_state(name, state, states, f"{where}{name}")


def _validate_state(name: str, state: Any, states: Mapping[str, Any], where: str) -> None:
    if not isinstance(state, dict) or state.get("Type") not in STATE_TYPES:
        raise DefinitionError(f"{where}: Type must be one of {sorted(STATE_TYPES)}")
    kind = state["Type"]
    for field, feature in _UNSUPPORTED_FIELDS.items():
        if field in state:
            raise UnsupportedFeatureError(f"{where}: {feature} is not supported by the local runner")
    if state.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise UnsupportedFeatureError(f"{where}: only the JSONPath query language is supported")
    _validate_transition(state, states, where)
    if kind not in _HANDLES_ERRORS and ("Retry" in state or "Catch" in state):
        raise DefinitionError(f"{where}: a {kind} state cannot have Retry or Catch")
    for index, retrier in enumerate(state.get("Retry", [])):
        _validate_retrier(retrier, index == len(state["Retry"]) - 1, f"{where}.Retry[{index}]")
    for index, catcher in enumerate(state.get("Catch", [])):
        _validate_catcher(catcher, index == len(state["Catch"]) - 1, states, f"{where}.Catch[{index}]")
    for field in _PATH_FIELDS:
        if field in state and not (field in _NULLABLE_PATHS and state[field] is None):
            _check_path(state[field], f"{where}.{field}")
    if state.get("ResultPath") is not None:
        _check_path(state["ResultPath"], f"{where}.ResultPath", reference=True)
    if "ResultSelector" in state and kind not in _HANDLES_ERRORS:
        raise DefinitionError(f"{where}: a {kind} state cannot have a ResultSelector")
    for field in _TEMPLATE_FIELDS:
        if field in state:
            _check_template(state[field], f"{where}.{field}")
    _TYPE_CHECKS.get(kind, lambda _state, _where: None)(state, where)


def _validate_transition(state: Mapping[str, Any], states: Mapping[str, Any], where: str) -> None:
    kind = state["Type"]
    if kind == "Choice" or kind in _TERMINAL_TYPES:
        if "Next" in state or "End" in state:
            raise DefinitionError(f"{where}: a {kind} state cannot have Next or End")
        if kind == "Choice":
            choices = state.get("Choices")
            if not isinstance(choices, list) or not choices:
                raise DefinitionError(f"{where}: Choices must be a non-empty array")
            for index, rule in enumerate(choices):
                choice.validate_rule(rule, f"{where}.Choices[{index}]", top_level=True)
                _check_target(rule["Next"], states, f"{where}.Choices[{index}].Next")
            if "Default" in state:
                _check_target(state["Default"], states, f"{where}.Default")
        return
    if ("Next" in state) == (state.get("End") is True):
        raise DefinitionError(f"{where}: exactly one of Next or End: true is required")
    if "Next" in state:
        _check_target(state["Next"], states, f"{where}.Next")


def _validate_retrier(retrier: Any, is_last: bool, where: str) -> None:
    errors = retrier.get("ErrorEquals") if isinstance(retrier, dict) else None
    _check_error_equals(errors, is_last, where)
    checks = {
        "IntervalSeconds": _positive_int,
        "MaxAttempts": lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "BackoffRate": lambda value: _number(value) and value >= 1.0,
        "MaxDelaySeconds": _positive_int,
        "JitterStrategy": lambda value: value in ("FULL", "NONE"),
    }
    for field, valid in checks.items():
        if field in retrier and not valid(retrier[field]):
            raise DefinitionError(f"{where}: invalid {field} {retrier[field]!r}")


def _validate_catcher(catcher: Any, is_last: bool, states: Mapping[str, Any], where: str) -> None:
    errors = catcher.get("ErrorEquals") if isinstance(catcher, dict) else None
    _check_error_equals(errors, is_last, where)
    _check_target(catcher.get("Next"), states, f"{where}.Next")
    if catcher.get("ResultPath") is not None:
        _check_path(catcher["ResultPath"], f"{where}.ResultPath", reference=True)


def _check_error_equals(errors: Any, is_last: bool, where: str) -> None:
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        raise DefinitionError(f"{where}: ErrorEquals must be a non-empty array of strings")
    if ALL in errors and (len(errors) > 1 or not is_last):
        raise DefinitionError(f"{where}: States.ALL must appear alone, in the last retrier or catcher")


def _validate_task(state: Mapping[str, Any], where: str) -> None:
    resource = state.get("Resource")
    if not isinstance(resource, str):
        raise DefinitionError(f"{where}: a Task needs a Resource")
    if resource == OPTIMIZED_INVOKE:
        parameters = state.get("Parameters")
        if not isinstance(parameters, dict) or not ({"FunctionName", "FunctionName.$"} & parameters.keys()):
            raise DefinitionError(f"{where}: lambda:invoke needs Parameters.FunctionName")
    elif not is_lambda_arn(resource):
        raise UnsupportedFeatureError(
            f"{where}: only Lambda tasks ({OPTIMIZED_INVOKE} or a function ARN) run locally, not {resource}"
        )
    if "TimeoutSeconds" in state and not _positive_int(state["TimeoutSeconds"]):
        raise DefinitionError(f"{where}: TimeoutSeconds must be a positive integer")
    if "TimeoutSecondsPath" in state:
        _check_path(state["TimeoutSecondsPath"], f"{where}.TimeoutSecondsPath")


def _validate_map(state: Mapping[str, Any], where: str) -> None:
    processor = state.get("ItemProcessor", state.get("Iterator"))
    if ("ItemProcessor" in state) == ("Iterator" in state) or not isinstance(processor, dict):
        raise DefinitionError(f"{where}: a Map needs exactly one of ItemProcessor or Iterator")
    config = processor.get("ProcessorConfig", {})
    mode = config.get("Mode", "INLINE")
    if mode not in ("INLINE", "DISTRIBUTED"):
        raise DefinitionError(f"{where}: ProcessorConfig.Mode must be INLINE or DISTRIBUTED, not {mode!r}")
    if mode == "DISTRIBUTED":
        _validate_distributed_map(state, config, where)
    else:
        for field, feature in _DISTRIBUTED_FIELDS.items():
            if field in state:
                raise UnsupportedFeatureError(
                    f"{where}: {feature} need ProcessorConfig Mode DISTRIBUTED (not on an INLINE Map)"
                )
    if "ItemSelector" in state and "Parameters" in state:
        raise DefinitionError(f"{where}: use ItemSelector or Parameters, not both")
    if "MaxConcurrency" in state and "MaxConcurrencyPath" in state:
        raise DefinitionError(f"{where}: use MaxConcurrency or MaxConcurrencyPath, not both")
    limit = state.get("MaxConcurrency", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise DefinitionError(f"{where}: MaxConcurrency must be a non-negative integer")
    _validate_machine(processor, f"{where}.ItemProcessor.")


def _validate_distributed_map(state: Mapping[str, Any], config: Mapping[str, Any], where: str) -> None:
    """ProcessorConfig, ItemReader, ResultWriter and the tolerated-failure fields of a Distributed Map."""
    execution_type = config.get("ExecutionType")
    if execution_type not in ("STANDARD", "EXPRESS"):
        raise DefinitionError(
            f"{where}: a DISTRIBUTED Map needs ProcessorConfig.ExecutionType STANDARD or EXPRESS"
        )
    if execution_type == "EXPRESS":
        raise UnsupportedFeatureError(
            f"{where}: EXPRESS child executions (at-least-once, 5 minutes) are not supported by the local "
            "runner; use STANDARD"
        )
    if "ItemReader" in state:
        if "ItemsPath" in state:
            raise DefinitionError(f"{where}: use ItemReader or ItemsPath, not both")
        _validate_item_reader(state["ItemReader"], f"{where}.ItemReader")
    if "ResultWriter" in state:
        _validate_result_writer(state["ResultWriter"], f"{where}.ResultWriter")
    label = state.get("Label")
    if label is not None and not (isinstance(label, str) and 0 < len(label) <= 40):
        raise DefinitionError(f"{where}: Label must be a string of 1 to 40 characters")
    for field, valid in (
        ("ToleratedFailurePercentage", lambda v: _number(v) and 0 <= v <= 100),
        ("ToleratedFailureCount", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    ):
        if field in state and f"{field}Path" in state:
            raise DefinitionError(f"{where}: use {field} or {field}Path, not both")
        if field in state and not valid(state[field]):
            raise DefinitionError(f"{where}: invalid {field} {state[field]!r}")
        if f"{field}Path" in state:
            _check_path(state[f"{field}Path"], f"{where}.{field}Path")


def _validate_item_reader(reader: Any, where: str) -> None:
    if not isinstance(reader, dict):
        raise DefinitionError(f"{where}: must be an object")
    resource = reader.get("Resource")
    if resource != S3_GET_OBJECT:
        raise UnsupportedFeatureError(
            f"{where}: only {S3_GET_OBJECT} (one JSON object) is supported locally, not {resource!r}"
        )
    reader_config = reader.get("ReaderConfig")
    if not isinstance(reader_config, dict) or "InputType" not in reader_config:
        raise DefinitionError(f"{where}: {S3_GET_OBJECT} needs ReaderConfig.InputType")
    input_type = reader_config["InputType"]
    if input_type != "JSON":
        raise UnsupportedFeatureError(
            f"{where}: only InputType JSON is supported locally, not {input_type!r}"
        )
    unsupported = set(reader_config) - {"InputType", "MaxItems", "MaxItemsPath"}
    if unsupported:
        raise UnsupportedFeatureError(
            f"{where}: ReaderConfig {sorted(unsupported)} are not supported locally"
        )
    if "MaxItems" in reader_config and "MaxItemsPath" in reader_config:
        raise DefinitionError(f"{where}: use MaxItems or MaxItemsPath, not both")
    if "MaxItems" in reader_config and not _positive_int(reader_config["MaxItems"]):
        raise DefinitionError(f"{where}: MaxItems must be a positive integer")
    if "MaxItemsPath" in reader_config:
        _check_path(reader_config["MaxItemsPath"], f"{where}.ReaderConfig.MaxItemsPath")
    _check_s3_parameters(reader.get("Parameters"), ("Bucket", "Key"), ("VersionId",), where)


def _validate_result_writer(writer: Any, where: str) -> None:
    if not isinstance(writer, dict):
        raise DefinitionError(f"{where}: must be an object")
    if "WriterConfig" in writer:
        raise UnsupportedFeatureError(f"{where}: WriterConfig is not supported locally")
    if writer.get("Resource") != S3_PUT_OBJECT:
        raise DefinitionError(f"{where}: Resource must be {S3_PUT_OBJECT}")
    _check_s3_parameters(writer.get("Parameters"), ("Bucket",), ("Prefix",), where)


def _check_s3_parameters(
    parameters: Any, required: tuple[str, ...], optional: tuple[str, ...], where: str
) -> None:
    if not isinstance(parameters, dict):
        raise DefinitionError(f"{where}: Parameters must be an object")
    names = {key.removesuffix(".$") for key in parameters}
    missing = [name for name in required if name not in names]
    if missing:
        raise DefinitionError(f"{where}: Parameters need {', '.join(missing)}")
    if names - set(required) - set(optional):
        raise UnsupportedFeatureError(
            f"{where}: Parameters {sorted(names - set(required) - set(optional))} are not supported locally"
        )
    _check_template(parameters, f"{where}.Parameters")


def _validate_parallel(state: Mapping[str, Any], where: str) -> None:
    branches = state.get("Branches")
    if not isinstance(branches, list) or not branches:
        raise DefinitionError(f"{where}: Branches must be a non-empty array")
    for index, branch in enumerate(branches):
        _validate_machine(branch, f"{where}.Branches[{index}].")


def _validate_wait(state: Mapping[str, Any], where: str) -> None:
    given = [field for field in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if field in state]
    if len(given) != 1:
        raise DefinitionError(f"{where}: a Wait needs exactly one of Seconds(Path) or Timestamp(Path)")
    if "Seconds" in state and not (_number(state["Seconds"]) and state["Seconds"] >= 0):
        raise DefinitionError(f"{where}: Seconds must be a non-negative number")
    if "Timestamp" in state and choice.parse_timestamp(state["Timestamp"]) is None:
        raise DefinitionError(f"{where}: Timestamp {state['Timestamp']!r} is not an RFC 3339 timestamp")


def _validate_fail(state: Mapping[str, Any], where: str) -> None:
    for field in ("Error", "Cause"):
        if field in state and f"{field}Path" in state:
            raise DefinitionError(f"{where}: use {field} or {field}Path, not both")
        if f"{field}Path" in state:
            _check_expression(state[f"{field}Path"], f"{where}.{field}Path")


_TYPE_CHECKS = {
    "Task": _validate_task,
    "Map": _validate_map,
    "Parallel": _validate_parallel,
    "Wait": _validate_wait,
    "Fail": _validate_fail,
}


def _check_target(target: Any, states: Mapping[str, Any], where: str) -> None:
    if target not in states:
        raise DefinitionError(f"{where}: {target!r} is not a state of this machine")


def _check_path(path: Any, where: str, *, reference: bool = False) -> None:
    if not isinstance(path, str):
        raise DefinitionError(f"{where}: expected a path, got {path!r}")
    try:
        parsed = jsonpath.parse(path)
    except jsonpath.JsonPathSyntaxError as exc:
        raise DefinitionError(f"{where}: {exc}") from None
    if reference and (parsed.context or not parsed.is_reference):
        raise DefinitionError(f"{where}: {path!r} is not a reference path (names and indexes only, on $)")


def _check_expression(expression: Any, where: str) -> None:
    if isinstance(expression, str) and intrinsics.is_intrinsic(expression):
        try:
            intrinsics.parse(expression)
        except intrinsics.IntrinsicSyntaxError as exc:
            raise DefinitionError(f"{where}: {exc}") from None
    else:
        _check_path(expression, where)


def _check_template(template: Any, where: str) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                _check_expression(value, f"{where}.{key}")
            else:
                _check_template(value, f"{where}.{key}")
    elif isinstance(template, list):
        for index, item in enumerate(template):
            _check_template(item, f"{where}[{index}]")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
