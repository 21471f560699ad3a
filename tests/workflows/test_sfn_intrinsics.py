import hashlib
import re

import pytest

from llm_twin.workflows import intrinsics
from llm_twin.workflows.failures import RUNTIME, StatesError

DATA = {
    "name": "Arnav",
    "template": "Hello, my name is {}.",
    "n": 3,
    "flag": True,
    "nothing": None,
    "obj": {"k": [1, "x"]},
    "json": '{"foo": "bar"}',
    "csv": "a,b,,c",
    "arr": [1, 2, 2, "2", {"a": 1}, {"a": 1}, True],
    "arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/my-recipe.1.0/1.0.0",
}
CONTEXT = {"Execution": {"Name": "exec-1"}}


def call(expression: str, data: object = DATA) -> object:
    return intrinsics.evaluate(intrinsics.parse(expression), data, CONTEXT)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("States.Format('Hello, my name is {}.', $.name)", "Hello, my name is Arnav."),
        ("States.Format($.template, $.name)", "Hello, my name is Arnav."),
        ("States.Format('{} {} {} {}', $.n, $.flag, $.nothing, $$.Execution.Name)", "3 true null exec-1"),
        ("States.Format('o={}', $.obj)", "o={k=[1, x]}"),
        ("States.Format('\\{\\} {} it\\'s \\\\', 1)", "{} 1 it's \\"),
        ("States.StringToJson($.json)", {"foo": "bar"}),
        ("States.JsonToString($.obj)", '{"k":[1,"x"]}'),
        ("States.Array($.n, 'a', null, true, 1.5)", [3, "a", None, True, 1.5]),
        ("States.Array()", []),
        ("States.ArrayPartition(States.ArrayRange(1, 9, 1), 4)", [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ("States.ArrayPartition($.arr, 3.4)", [[1, 2, 2], ["2", {"a": 1}, {"a": 1}], [True]]),
        ("States.ArrayContains($.arr, 2)", True),
        ("States.ArrayContains($.arr, $.obj)", False),
        ("States.ArrayContains(States.Array(true), 1)", False),  # JSON equality: true is not 1
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.arr, 4)", {"a": 1}),
        ("States.ArrayLength($.arr)", 7),
        ("States.ArrayUnique($.arr)", [1, 2, "2", {"a": 1}, True]),
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"),
        ("States.Base64Encode('héllo')", "aMOpbGxv"),
        ("States.Hash('input data', 'SHA-1')", hashlib.sha1(b"input data").hexdigest()),
        ("States.Hash($.name, 'SHA-256')", hashlib.sha256(b"Arnav").hexdigest()),
        ('States.JsonMerge($.obj, States.StringToJson(\'{"k": 2, "j": 3}\'), false)', {"k": 2, "j": 3}),
        ("States.MathAdd(111, -1)", 110),
        ("States.MathAdd(1.5, 1)", 3),  # non-integers are rounded to the nearest integer
        ("States.StringSplit('This.is+a,test=string', '.+,=')", ["This", "is", "a", "test", "string"]),
        ("States.StringSplit($.csv, ',')", ["a", "b", "c"]),
        # The guide's nine-deep example (whose template has one {} too many for its two arguments).
        (
            "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit($.arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit("
            "States.ArrayGetItem(States.StringSplit($.arn, '/'), 2), '.'), 1))",
            "1.0",
        ),
    ],
)
def test_functions(expression: str, expected: object) -> None:
    assert call(expression) == expected


def test_uuid_is_a_v4_uuid() -> None:
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", call("States.UUID()")
    )


def test_math_random_is_in_range_end_exclusive_and_repeatable_with_a_seed() -> None:
    assert {call("States.MathRandom(1, 3)") for _ in range(200)} == {1, 2}
    assert call("States.MathRandom(1, 1000, 42)") == call("States.MathRandom(1, 1000, 42)")


def test_paths_with_brackets_work_as_arguments() -> None:
    assert call("States.Format('{}', $['name'])", DATA) == "Arnav"
    assert call("States.ArrayLength($.arr[1:3])") == 2


@pytest.mark.parametrize(
    "expression",
    [
        "States.Format('{} {}', 1)",
        "States.Format('{}', 1, 2)",
        "States.Format($.n)",
        "States.StringToJson('nope')",
        "States.ArrayPartition($.arr, 0)",
        "States.ArrayRange(1, 3000, 1)",
        "States.ArrayRange(1, 3, 0)",
        "States.ArrayGetItem($.arr, 10)",
        "States.ArrayLength($.name)",
        "States.Base64Decode('%%%')",
        "States.Hash($.name, 'sha-256')",
        "States.Hash($.n, 'MD5')",
        "States.JsonMerge($.obj, $.obj, true)",
        "States.MathAdd(2147483648, 1)",
        "States.MathAdd($.name, 1)",
        "States.MathRandom(5, 5)",
        "States.StringSplit($.n, ',')",
        "States.Format('{}', $.missing)",
    ],
)
def test_invalid_arguments_are_runtime_errors(expression: str) -> None:
    with pytest.raises(StatesError) as raised:
        call(expression)
    assert raised.value.error == RUNTIME


@pytest.mark.parametrize(
    "expression",
    [
        "States.Nope(1)",
        "States.Format('{}', $.a",
        "States.Format('unterminated)",
        "States.Format('bad \\escape')",
        "States.UUID(1)",
        "States.ArrayLength()",
        "States.Array(1) trailing",
        "States.Array(@)",
        "States.Array($..x)",
    ],
)
def test_syntax_errors_and_unknown_functions(expression: str) -> None:
    with pytest.raises(intrinsics.IntrinsicSyntaxError):
        intrinsics.parse(expression)
