"""core.parsers.JSONParser: nesting and text checks of every API JSON body."""

import io

import pytest
from rest_framework.exceptions import ParseError

from core.parsers import MAX_DEPTH, JSONParser


def parse(text: str):
    return JSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


def test_ordinary_bodies_parse():
    assert parse('{"kind": "axb", "extra": {"a": [1, 2]}, "n": "中文"}')["n"] == "中文"


def test_nesting_up_to_the_limit_parses_and_beyond_is_refused():
    deepest = parse("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH - 1):
        (deepest,) = deepest
    assert deepest == []
    with pytest.raises(ParseError, match="nested deeper"):
        parse("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_a_document_deeper_than_the_interpreter_can_recurse_is_a_parse_error():
    with pytest.raises(ParseError, match="nested deeper"):
        parse('{"a":' * 100_000 + "1" + "}" * 100_000)


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udc00": 1}', '["ok", {"k": "\\udfff"}]'])
def test_lone_surrogates_are_refused(text):
    with pytest.raises(ParseError, match="surrogate"):
        parse(text)


def test_a_surrogate_pair_is_text():
    assert parse('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "{", "\xff"])
def test_not_json_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse(text)
