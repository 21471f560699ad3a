import pytest

from llm_twin.workflows.jsonpath import JsonPathSyntaxError, PathNotFound, parse, write

DATA = {
    "a": {"b": 1, "list": [{"b": 1}, {"c": 2}, {"b": 3}]},
    "a b": "spaced",
    "items": [10, 20, 30, 40],
    "empty": [],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b", 1),
        ("$['a']['b']", 1),
        ('$["a b"]', "spaced"),
        ("$.items[0]", 10),
        ("$.items[-1]", 40),  # Jayway: a single index is definite, even negative
        ("$.a.list[1].c", 2),
    ],
)
def test_definite_paths_select_one_value(path: str, expected: object) -> None:
    assert parse(path).definite
    assert parse(path).select(DATA) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.list[*].b", [1, 3]),  # members missing in some items are skipped
        ("$.items[*]", [10, 20, 30, 40]),
        ("$.a.*", [1, [{"b": 1}, {"c": 2}, {"b": 3}]]),
        ("$.items[1:3]", [20, 30]),
        ("$.items[::2]", [10, 30]),
        ("$.items[0,2]", [10, 30]),
        ("$.a.list[*].missing", []),
        ("$.empty[*]", []),
    ],
)
def test_indefinite_paths_select_a_list(path: str, expected: object) -> None:
    assert not parse(path).definite
    assert parse(path).select(DATA) == expected


@pytest.mark.parametrize(
    "path", ["$.missing", "$.a.b.c", "$.items[9]", "$.a[0]", "$.missing[*]", "$.items.x"]
)
def test_a_definite_path_to_nothing_raises(path: str) -> None:
    with pytest.raises(PathNotFound):
        parse(path).select(DATA)


def test_context_paths_are_marked() -> None:
    assert parse("$$.Execution.Id").context
    assert not parse("$.Execution.Id").context


@pytest.mark.parametrize("path", ["a.b", "$..b", "$.a[?(@.b > 1)]", "$.a[", "$.", "$[x]", "$.items[::0]"])
def test_unsupported_or_invalid_paths_are_rejected(path: str) -> None:
    with pytest.raises(JsonPathSyntaxError):
        parse(path)


def test_reference_paths() -> None:
    assert parse("$.a.b[0]['c']").is_reference
    assert not parse("$.a[*]").is_reference
    assert not parse("$.a[-1]").is_reference


def test_write_creates_missing_objects_and_leaves_the_input_untouched() -> None:
    data = {"a": {"keep": 1}}
    assert write(data, parse("$.a.new.deep"), 5) == {"a": {"keep": 1, "new": {"deep": 5}}}
    assert data == {"a": {"keep": 1}}


def test_write_replaces_values_and_list_items() -> None:
    assert write({"x": [1, 2]}, parse("$.x[1]"), 9) == {"x": [1, 9]}
    assert write({"x": 1}, parse("$.x"), {"y": 2}) == {"x": {"y": 2}}
    assert write({"x": 1}, parse("$"), "whole") == "whole"


@pytest.mark.parametrize(("data", "path"), [({"a": 1}, "$.a.b"), ([1], "$.a"), ({"x": [1]}, "$.x[3]")])
def test_write_through_a_non_object_fails(data: object, path: str) -> None:
    with pytest.raises(ValueError, match="cannot set"):
        write(data, parse(path), 1)
