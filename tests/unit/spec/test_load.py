"""Bad bytes and bad JSON: each is refused with a clear, located problem, never a traceback."""

from __future__ import annotations

import json

import pytest

from task_api.spec import SpecError
from task_api.spec.load import (
    MAX_BYTES,
    MAX_DEPTH,
    decode_document,
    parse_processing_container,
    validate_processing_container,
    validate_task,
)
from tests.unit.spec.helpers import minimal_pc


def refusal(data: bytes | str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_processing_container(data, source="in.json")
    assert caught.value.source == "in.json"
    return caught.value


def test_malformed_json_reports_line_and_column() -> None:
    error = refusal(b'{\n  "name": "x",\n  "templates": [\n    {"identifier": "a",}\n  ]\n}\n')
    (problem,) = error.problems
    assert problem.message.startswith("malformed JSON")
    assert (problem.line, problem.column) == (4, 24)
    assert str(error).startswith("in.json:4:24: malformed JSON")


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_empty_file(data: bytes) -> None:
    (problem,) = refusal(data).problems
    assert problem.message == "file is empty"


def test_binary_file() -> None:
    (problem,) = refusal(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").problems
    assert "binary file" in problem.message
    assert "offset 8" in problem.message


def test_non_utf8_bytes_are_located() -> None:
    (problem,) = refusal(b'{\n  "name": "caf\xe9"\n}').problems
    assert problem.message == "not UTF-8 text"
    assert problem.given == "byte 0xe9"
    assert (problem.line, problem.column) == (2, 15)


def test_utf8_byte_order_mark_is_accepted() -> None:
    pc = parse_processing_container(b"\xef\xbb\xbf" + json.dumps(minimal_pc()).encode(), source="bom.json")
    assert pc.name == "pc"


def test_ten_megabyte_file_is_refused_without_parsing() -> None:
    data = b'{"name": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    (problem,) = refusal(data).problems
    assert problem.message == "file is too large"
    assert problem.given == f"{len(data)} bytes"
    assert str(MAX_BYTES) in (problem.allowed or "")


def test_deeply_nested_json_is_refused_with_its_position() -> None:
    data = '{"name": "x", "templates": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (problem,) = refusal(data).problems
    assert problem.message == "nested too deeply"
    assert problem.line == 1
    assert problem.column == len('{"name": "x", "templates": ') + MAX_DEPTH


def test_nesting_inside_strings_does_not_count() -> None:
    document = minimal_pc(description="[" * 1000)
    assert parse_processing_container(json.dumps(document), source="s.json").templates[0].description == "[" * 1000


def test_duplicate_keys_are_errors_pointing_at_the_second_key() -> None:
    text = '{\n  "name": "a",\n  "templates": [{"identifier": "main"}],\n  "name": "b"\n}'
    (problem,) = refusal(text).problems
    assert problem.path == "name"
    assert "duplicate key" in problem.message
    assert (problem.line, problem.column) == (4, 3)


def test_duplicate_keys_in_nested_objects() -> None:
    text = '{"name": "a", "templates": [{"identifier": "main", "env": [{"name": "A", "value": "1", "value": "2"}]}]}'
    (problem,) = refusal(text).problems
    assert problem.path == "templates[0].env[0].value"


@pytest.mark.parametrize(
    ("text", "given"), [("[]", "an array"), ('"x"', "a string"), ("3", "a number"), ("null", "null")]
)
def test_top_level_must_be_an_object(text: str, given: str) -> None:
    (problem,) = refusal(text).problems
    assert problem.message == "the document must be a JSON object"
    assert problem.given == given


def test_decode_document_keeps_the_text_for_positions() -> None:
    document = decode_document(b'{"a": 1}', source="x")
    assert document.text == '{"a": 1}'
    assert document.value == {"a": 1}


def test_already_decoded_values_are_validated_without_positions() -> None:
    assert validate_processing_container(minimal_pc(), source="cr").name == "pc"
    with pytest.raises(SpecError) as caught:
        validate_task({"name": "t", "image": "i", "taskTemplate": "x", "imgae": 1}, source="TaskRun ns/t")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("imgae", None, None)
    assert str(caught.value) == "TaskRun ns/t: imgae: unknown field (did you mean 'image'?) " + (
        '(given "imgae"; allowed name, image, api_version, taskTemplate, command, inputs, outputs, env, '
        "resources, config, or an extension key starting with 'x-')"
    )
