"""Problems and SpecError: the human format, JSON form, the exception tree."""

from __future__ import annotations

import pytest

from task_api.spec import InvalidQuantity, Problem, Severity, SpecError, TaskApiError
from task_api.spec.errors import format_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ""),
        (("templates",), "templates"),
        (("templates", 0, "inputs", 1, "mounted_path"), "templates[0].inputs[1].mounted_path"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_path(loc: tuple[str | int, ...], path: str) -> None:
    assert format_path(loc) == path


def test_problem_human_format_has_file_position_path_given_and_allowed() -> None:
    problem = Problem(
        path="templates[0].inputs[1].mounted_path",
        message="must be an absolute path",
        given='"data"',
        allowed="an absolute path",
        line=12,
        column=7,
    )
    assert problem.format("pc.json") == (
        "pc.json:12:7: templates[0].inputs[1].mounted_path: must be an absolute path "
        '(given "data"; allowed an absolute path)'
    )


def test_warning_is_marked_and_position_is_optional() -> None:
    problem = Problem(path="env[0]", message="m", severity=Severity.WARNING)
    assert problem.format("t.json") == "t.json: warning: env[0]: m"
    assert problem.to_dict()["severity"] == "warning"


def test_spec_error_lists_every_problem_one_per_line() -> None:
    error = SpecError("f.json", [Problem(path="a", message="x", line=1, column=2), Problem(path="b", message="y")])
    assert str(error).splitlines() == ["f.json:1:2: a: x", "f.json: b: y"]
    assert [p.path for p in error.errors] == ["a", "b"]


def test_exception_tree() -> None:
    assert issubclass(SpecError, TaskApiError)
    assert issubclass(InvalidQuantity, TaskApiError)
    assert issubclass(InvalidQuantity, ValueError)
