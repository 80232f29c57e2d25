"""Whatever the bytes, parsing ends in a model or a SpecError — never another exception (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from task_api.core.merge import resolve
from task_api.spec import SpecError
from task_api.spec.load import parse_processing_container, parse_task
from tests.unit.spec.helpers import minimal_pc, minimal_task

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*here, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*here, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    return copy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), json_values)
def test_any_field_replaced_by_any_json_value(data: Any, new: Any) -> None:
    base = minimal_pc(
        inputs=[
            {"name": "in", "mounted_path": "/d", "scale_rule": {"scale_factor": 1, "type": "limit", "mode": "sum"}}
        ],
        resources={"requests": {"memory": "1Mi"}, "limits": {"memory": "2Mi"}},
    )
    path = data.draw(st.sampled_from(_paths(base)))
    document = _replace(base, path, new)
    try:
        parse_processing_container(json.dumps(document), source="fuzz.json")
    except SpecError as error:
        assert error.problems
        assert all(p.line is not None for p in error.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), json_values)
def test_any_task_field_replaced_then_merged(data: Any, new: Any) -> None:
    pc = parse_processing_container(json.dumps(minimal_pc()), source="pc.json")
    base = minimal_task(
        config={"type": "k8s", "namespace": "a", "labels": {"k": "v"}}, env=[{"name": "MODE", "value": "fast"}]
    )
    document = _replace(base, data.draw(st.sampled_from(_paths(base))), new)
    try:
        task = parse_task(json.dumps(document), source="fuzz.json", environ={})
        resolve(task, pc, base_dir="/base")
    except SpecError as error:
        assert error.problems


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_task(data, source="bytes.json", environ={})
    except SpecError as error:
        assert error.problems
