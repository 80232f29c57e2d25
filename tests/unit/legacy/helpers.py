"""Shared builders for the legacy unit tests (pure)."""

from __future__ import annotations

import json
from typing import Any

from task_api.core.legacy import LegacyAnswers, LegacyMode, StageKind, template_for
from task_api.core.merge import resolve
from task_api.spec import ProcessingContainer, ResolvedTask
from task_api.spec.load import parse_processing_container, parse_task


def answers(**changes: Any) -> LegacyAnswers:
    base: dict[str, Any] = {
        "name": "legacy-test",
        "operator_in_dir": "dcm-converter",
        "operator_out_dir": "seg",
        "env": [("GREETING", "hello", None), ("THRESHOLD", "10", "bytes")],
        "workflow_form": ["THRESHOLD"],
        "conf": {"label": "default"},
        "mode": LegacyMode.PER_ELEMENT,
        "stage": StageKind.COPY,
    }
    base.update(changes)
    return LegacyAnswers(**base)


def container(**changes: Any) -> ProcessingContainer:
    return parse_processing_container(json.dumps(template_for(answers(**changes))), source="pc.json")


def resolved(env: list[dict[str, str]] | None = None, **changes: Any) -> ResolvedTask:
    task = {
        "name": "t",
        "image": "registry.local/legacy:1",
        "taskTemplate": "default",
        "inputs": [{"name": "input", "volume_source": {"host_path": "/data/in"}}],
        "outputs": [{"name": "output", "volume_source": {"host_path": "/data/out"}}],
        "env": env or [],
    }
    return resolve(parse_task(json.dumps(task), source="task.json", environ={}), container(**changes))
