from typing import Any

import pytest
from sfn_testing import run

from llm_twin.workflows.choice import evaluate, parse_timestamp, validate_rule
from llm_twin.workflows.failures import NO_CHOICE_MATCHED, RUNTIME, DefinitionError, StatesError

DATA = {
    "s": "abc",
    "n": 5,
    "f": 5.0,
    "b": True,
    "z": None,
    "t": "2024-01-01T00:00:00Z",
    "t_offset": "2024-01-01T01:00:00+01:00",
    "t_frac": "2024-01-01T00:00:00.5Z",
    "other_s": "abd",
    "other_n": 7,
    "star": "a*c",
    "list": [1],
}


def matches(rule: dict[str, Any], data: Any = DATA) -> bool:
    return evaluate(rule, data, {})


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"Variable": "$.s", "StringEquals": "abc"}, True),
        ({"Variable": "$.s", "StringLessThan": "abd"}, True),
        ({"Variable": "$.s", "StringGreaterThan": "abd"}, False),
        ({"Variable": "$.s", "StringLessThanEquals": "abc"}, True),
        ({"Variable": "$.s", "StringGreaterThanEquals": "abc"}, True),
        ({"Variable": "$.s", "StringEqualsPath": "$.other_s"}, False),
        ({"Variable": "$.s", "StringLessThanPath": "$.other_s"}, True),
        ({"Variable": "$.n", "NumericEquals": 5}, True),
        ({"Variable": "$.f", "NumericEquals": 5}, True),
        ({"Variable": "$.n", "NumericLessThan": 5.5}, True),
        ({"Variable": "$.n", "NumericGreaterThanEquals": 6}, False),
        ({"Variable": "$.n", "NumericLessThanPath": "$.other_n"}, True),
        ({"Variable": "$.n", "NumericGreaterThanPath": "$.other_n"}, False),
        ({"Variable": "$.b", "BooleanEquals": True}, True),
        ({"Variable": "$.b", "BooleanEqualsPath": "$.b"}, True),
        ({"Variable": "$.t", "TimestampEquals": "2024-01-01T00:00:00Z"}, True),
        ({"Variable": "$.t_offset", "TimestampEquals": "2024-01-01T00:00:00Z"}, True),  # the same instant
        ({"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:00.1Z"}, True),
        ({"Variable": "$.t_frac", "TimestampGreaterThanPath": "$.t"}, True),
        ({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t_offset"}, True),
        ({"Variable": "$.s", "StringMatches": "a*"}, True),
        ({"Variable": "$.s", "StringMatches": "*c"}, True),
        ({"Variable": "$.s", "StringMatches": "a*d"}, False),
        ({"Variable": "$.star", "StringMatches": "a\\*c"}, True),  # \* is a literal asterisk
        ({"Variable": "$.s", "StringMatches": "a\\*c"}, False),
        ({"Variable": "$.z", "IsNull": True}, True),
        ({"Variable": "$.s", "IsNull": False}, True),
        ({"Variable": "$.s", "IsString": True}, True),
        ({"Variable": "$.n", "IsNumeric": True}, True),
        ({"Variable": "$.b", "IsNumeric": True}, False),  # a boolean is not a number
        ({"Variable": "$.b", "IsBoolean": True}, True),
        ({"Variable": "$.t", "IsTimestamp": True}, True),
        ({"Variable": "$.s", "IsTimestamp": True}, False),
        ({"Variable": "$.missing", "IsPresent": False}, True),
        ({"Variable": "$.z", "IsPresent": True}, True),
        ({"Variable": "$.list[0]", "IsPresent": True}, True),
        ({"Variable": "$.list[3]", "IsPresent": True}, False),
        # Typed comparisons: another type compares false, never raises.
        ({"Variable": "$.n", "StringEquals": "5"}, False),
        ({"Variable": "$.s", "NumericEquals": 5}, False),
        ({"Variable": "$.b", "NumericEquals": 1}, False),
        ({"Variable": "$.z", "NumericEquals": 0}, False),
        ({"Variable": "$.n", "BooleanEquals": True}, False),
        ({"Variable": "$.s", "TimestampEquals": "2024-01-01T00:00:00Z"}, False),
        ({"Variable": "$.n", "StringEqualsPath": "$.s"}, False),
        # Boolean combinations.
        (
            {
                "And": [
                    {"Variable": "$.missing", "IsPresent": True},
                    {"Variable": "$.missing", "IsNull": True},
                ]
            },
            False,
        ),
        ({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "StringEquals": "abc"}]}, True),
        ({"Not": {"Variable": "$.s", "StringEquals": "abc"}}, False),
    ],
)
def test_rules(rule: dict[str, Any], expected: bool) -> None:
    assert matches(rule) is expected


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "StringEquals": "x"},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.s", "StringEqualsPath": "$.missing"},
    ],
)
def test_a_missing_variable_is_a_runtime_error(rule: dict[str, Any]) -> None:
    with pytest.raises(StatesError) as raised:
        matches(rule)
    assert raised.value.error == RUNTIME
    assert "Invalid path" in (raised.value.cause or "")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2024-01-01T00:00:00Z", True),
        ("2024-01-01T00:00:00.123456789Z", True),
        ("2024-01-01T00:00:00-05:30", True),
        ("2024-01-01t00:00:00z", False),  # ASL requires an uppercase T and Z
        ("2024-01-01 00:00:00Z", False),
        ("2024-01-01T00:00:00", False),
        ("2024-13-01T00:00:00Z", False),
    ],
)
def test_timestamps(text: str, valid: bool) -> None:
    assert (parse_timestamp(text) is not None) is valid


CHOICE = {
    "StartAt": "C",
    "States": {
        "C": {
            "Type": "Choice",
            "InputPath": "$.in",
            "OutputPath": "$.kept",
            "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Small"},
            ],
            "Default": "Other",
        },
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
        "Other": {"Type": "Pass", "Result": "other", "ResultPath": "$.size", "End": True},
    },
}


@pytest.mark.parametrize(("n", "size"), [(11, "big"), (10, "small"), (0, "other")])
def test_the_first_matching_rule_wins_and_input_output_paths_apply(n: int, size: str) -> None:
    execution = run(CHOICE, {"in": {"n": n, "kept": {"k": 1}}})
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"k": 1, "size": size}


def test_no_match_and_no_default_fails_with_no_choice_matched() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}]},
            "D": {"Type": "Succeed"},
        },
    }
    execution = run(definition, {"n": 2})
    assert (execution.status, execution.error) == ("FAILED", NO_CHOICE_MATCHED)


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.a", "Next": "X"},
        {"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "X"},
        {"Variable": "$.a", "NumericEquals": "1", "Next": "X"},
        {"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "X"},
        {"Variable": "$.a", "IsNull": "yes", "Next": "X"},
        {"Variable": "$.a", "StringEqualsPath": "not a path", "Next": "X"},
        {"Variable": "a", "StringEquals": "x", "Next": "X"},
        {"StringEquals": "x", "Next": "X"},
        {"And": [], "Next": "X"},
        {"Not": {"Variable": "$.a", "IsNull": True, "Next": "X"}, "Next": "X"},
        {"Variable": "$.a", "IsNull": True},
    ],
)
def test_malformed_rules_are_definition_errors(rule: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError):
        validate_rule(rule, "C.Choices[0]", top_level=True)
