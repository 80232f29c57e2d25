"""kopf's per-object state: events pass through kopf's own processing (no API server) into the handlers, and
nothing stays behind per object — the operator's memory must not grow with the objects present."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
from kopf._cogs.structs import ephemera, references
from kopf._core.actions import lifecycles
from kopf._core.engines import indexing
from kopf._core.reactor import processing
from kopf._core.reactor.inventory import ResourceMemories

from task_api.controller.app import configure_kopf
from task_api.controller.handlers import NoMemories, register
from task_api.controller.runtime import Runtime

TASKRUNS = references.Resource(group="task-api.io", version="v1alpha1", plural="taskruns", namespaced=True)
PODS = references.Resource(group="", version="v1", plural="pods", namespaced=True)


class Recorder:
    """Stands in for the Runtime: records what the handlers hand over."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str]] = []

    def taskrun_event(self, event_type: str | None, body: dict[str, Any]) -> None:
        self.seen.append(("TaskRun", event_type, body["metadata"]["name"]))

    def pod_event(self, event_type: str | None, body: dict[str, Any]) -> None:
        self.seen.append(("Pod", event_type, body["metadata"]["name"]))

    def processing_container_event(self, event_type: str | None, body: dict[str, Any]) -> None:
        self.seen.append(("ProcessingContainer", event_type, body["metadata"]["name"]))


def _body(kind: str, name: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "task-api-operator"} if kind == "Pod" else {}
    metadata = {"name": name, "namespace": "ns", "uid": f"uid-{kind}-{name}", "resourceVersion": "1", "labels": labels}
    return {"apiVersion": "v1" if kind == "Pod" else "task-api.io/v1alpha1", "kind": kind, "metadata": metadata}


def _process(memories: ResourceMemories, events: list[tuple[references.Resource, dict[str, Any]]]) -> Recorder:
    recorder = Recorder()
    registry = kopf.OperatorRegistry()
    register(registry, cast(Runtime, recorder))
    settings = kopf.OperatorSettings()
    configure_kopf(settings)

    async def scenario() -> None:
        for resource, raw_event in events:
            await processing.process_resource_event(
                lifecycle=lifecycles.all_at_once,
                indexers=indexing.OperatorIndexers(),
                registry=registry,
                settings=settings,
                memories=memories,
                memobase=ephemera.AnyMemo(ephemera.Memo()),
                resource=resource,
                raw_event=cast(Any, raw_event),
                event_queue=asyncio.Queue(),
            )

    asyncio.run(scenario())
    return recorder


def _events(count: int) -> list[tuple[references.Resource, dict[str, Any]]]:
    events: list[tuple[references.Resource, dict[str, Any]]] = []
    for i in range(count):
        events.append((TASKRUNS, {"type": None, "object": _body("TaskRun", f"run-{i}")}))  # the initial listing
        events.append((PODS, {"type": "MODIFIED", "object": _body("Pod", f"run-{i}-a1")}))
    return events


def test_kopf_keeps_no_memory_per_object_and_still_delivers_every_event() -> None:
    memories = NoMemories()
    recorder = _process(memories, _events(50))
    assert len(recorder.seen) == 100
    assert recorder.seen[:2] == [("TaskRun", None, "run-0"), ("Pod", "MODIFIED", "run-0-a1")]
    assert list(memories.iter_all_memories()) == []


def test_kopf_own_memories_would_keep_one_entry_per_object() -> None:
    """What NoMemories is for: kopf's default keeps a memory per object until the object is deleted."""
    memories = ResourceMemories()
    _process(memories, _events(50))
    assert len(list(memories.iter_all_memories())) == 100
