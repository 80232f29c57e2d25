"""Helpers for spec tests: build documents as JSON text and collect the problems a parse reports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from task_api.spec import Problem, SpecError
from task_api.spec.load import parse_processing_container, parse_task


def minimal_pc(**template: Any) -> dict[str, Any]:
    """A valid processing-container.json with one template; keyword arguments replace template fields."""
    base: dict[str, Any] = {
        "identifier": "main",
        "description": "d",
        "env": [{"name": "MODE", "value": "fast", "choices": ["fast", "slow"]}],
        "inputs": [{"name": "in", "mounted_path": "/data/in"}],
        "outputs": [{"name": "out", "mounted_path": "/data/out"}],
        "command": ["/bin/sh", "-c", "true"],
    }
    base.update(template)
    return {"name": "pc", "description": "d", "templates": [base]}


def minimal_task(**fields: Any) -> dict[str, Any]:
    """A valid task.json for :func:`minimal_pc`; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "name": "t",
        "image": "localhost:5000/x:1",
        "taskTemplate": "main",
        "inputs": [{"name": "in", "volume_source": {"host_path": "/srv/in"}}],
        "outputs": [{"name": "out", "volume_source": {"host_path": "/srv/out"}}],
    }
    base.update(fields)
    return base


def pc_problems(document: Mapping[str, Any] | str) -> list[Problem]:
    """The problems parsing a processing-container.json reports (fails the test when it parses)."""
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    with pytest.raises(SpecError) as caught:
        parse_processing_container(text, source="pc.json")
    assert caught.value.problems, "a SpecError must carry problems"
    return caught.value.problems


def task_problems(document: Mapping[str, Any] | str, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """The problems parsing a task.json reports (fails the test when it parses)."""
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    with pytest.raises(SpecError) as caught:
        parse_task(text, source="task.json", environ=environ or {})
    assert caught.value.problems, "a SpecError must carry problems"
    return caught.value.problems


def by_path(problems: list[Problem]) -> dict[str, Problem]:
    return {p.path: p for p in problems}
