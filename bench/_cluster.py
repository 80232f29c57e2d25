"""Shared pieces of the operator benchmarks: the test bed's API client, namespaces, a pod watch. Does I/O.

The benchmarks expect the test bed up and the operator deployed (``make deploy-testbed``); ``make bench-operator``
does both first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from task_api.kube import ClusterAccess, KubeClient, NotFound
from task_api.kube.client import core_path, resource_path


def _state_dir() -> Path:
    """The bed's state directory: ``$TASK_API_TESTBED_DIR``, the private bed of ``$TESTBED_PROFILE``, or the default."""
    if os.environ.get("TASK_API_TESTBED_DIR"):
        return Path(os.environ["TASK_API_TESTBED_DIR"])
    profile = os.environ.get("TESTBED_PROFILE")
    if profile:
        env = Path(__file__).resolve().parents[1] / "hack" / "testbed" / "profiles" / f"{profile}.env"
        for line in env.read_text().splitlines():
            if line.startswith("TASK_API_TESTBED_DIR="):
                return Path(line.split("=", 1)[1].strip())
    return Path("/var/lib/task-api/testbed")


STATE = _state_dir()
PULL_SECRET = "task-api-registry"


def testbed_info() -> dict[str, Any]:
    info: dict[str, Any] = json.loads((STATE / "testbed.json").read_text())
    info["user"] = Path(info["registry_username_file"]).read_text().strip()
    info["password"] = Path(info["registry_password_file"]).read_text().strip()
    return info


def client(info: dict[str, Any]) -> KubeClient:
    return KubeClient(ClusterAccess.from_kubeconfig(Path(info["kubeconfig"])), max_connections=64)


def taskruns(namespace: str, name: str | None = None) -> str:
    return resource_path(group="task-api.io", version="v1alpha1", plural="taskruns", namespace=namespace, name=name)


async def fresh_namespace(kube: KubeClient, info: dict[str, Any], name: str) -> None:
    """(Re)create a namespace with the registry pull secret, once the bed is quiet (see :func:`quiesce`)."""
    with contextlib.suppress(NotFound):
        await kube.delete(core_path("namespaces", name=name))
    await quiesce(kube)
    await kube.create(core_path("namespaces"), {"metadata": {"name": name}})
    auth = base64.b64encode(f"{info['user']}:{info['password']}".encode()).decode()
    payload = json.dumps({"auths": {info["registry"]: {"auth": auth}}}).encode()
    await kube.create(
        core_path("secrets", name),
        {
            "metadata": {"name": PULL_SECRET},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(payload).decode()},
        },
    )
    # Pods are refused until the service-account controller has made "default".
    for _ in range(100):
        try:
            await kube.get(core_path("serviceaccounts", name, "default"))
            return
        except NotFound:
            await asyncio.sleep(0.2)


async def local_claim(kube: KubeClient, info: dict[str, Any], namespace: str, name: str) -> Path:
    """A Bound claim on a new host directory (a PersistentVolume pre-bound to it, as the test fixtures do)."""
    pv_name = f"{namespace}-{name}"
    host = Path(info["pv_dir"]) / pv_name
    host.mkdir(parents=True, exist_ok=True)
    host.chmod(0o777)
    try:
        await kube.delete(core_path("persistentvolumes", name=pv_name))
        while True:
            await kube.get(core_path("persistentvolumes", name=pv_name))
            await asyncio.sleep(0.2)
    except NotFound:
        pass
    await kube.create(
        core_path("persistentvolumes"),
        {
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": info["storage_class"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(host), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": name},
            },
        },
    )
    await kube.create(
        core_path("persistentvolumeclaims", namespace),
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": info["storage_class"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": pv_name,
            },
        },
    )
    return host


async def build_bench_image(info: dict[str, Any]) -> str:
    """Build the chain example (a trivial busybox template) and push it to the test bed registry."""
    image = f"{info['registry']}/bench/chain:bench"
    root = Path(__file__).resolve().parents[1]
    for argv in (
        [str(root / "examples" / "03-chain" / "build.sh"), image],
        ["/usr/bin/docker", "push", "-q", image],
    ):
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL)
        if await proc.wait() != 0:
            raise SystemExit(f"{argv[0]} failed")
    return image


def trivial_taskrun(name: str, image: str) -> dict[str, Any]:
    """A TaskRun of the chain example's "produce" template; its pod is removed once it finished."""
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {
            "image": image,
            "imagePullSecrets": [{"name": PULL_SECRET}],
            "taskTemplate": "produce",
            "ttlSecondsAfterFinished": 0,
        },
    }


def plain_pod(name: str, image: str) -> dict[str, Any]:
    """The baseline: a pod like a trivial TaskRun's, created directly (same image, pull secret, no operator)."""
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "imagePullSecrets": [{"name": PULL_SECRET}],
            "containers": [{"name": "task", "image": image, "command": ["true"]}],
        },
    }


async def delete_namespace(kube: KubeClient, name: str) -> None:
    with contextlib.suppress(NotFound):
        await kube.delete(core_path("namespaces", name=name))


async def quiesce(kube: KubeClient, timeout: float = 600) -> None:
    """Wait until no namespace is Terminating: deleting hundreds of pods loads the API server and the kubelet, and
    a measurement taken meanwhile (an earlier bench's clean-up, or the other side of this one) would be skewed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        namespaces = await kube.list_items(core_path("namespaces"))
        if not any((ns.get("status") or {}).get("phase") == "Terminating" for ns in namespaces):
            return
        await asyncio.sleep(1)
    raise SystemExit(f"namespaces still Terminating after {timeout:.0f} s; the bed is too busy to measure")


async def watch_pods(
    kube: KubeClient, namespace: str, on_added: Callable[[dict[str, Any], float], None], stop: asyncio.Event
) -> None:
    """Stream pod ADDED events of a namespace, calling ``on_added(pod, monotonic_time)`` as each arrives.

    The watch starts from a list's resourceVersion and resumes from the last event's, so no pod is reported late
    by a re-list (which would count the reconnect delay as latency)."""
    path = core_path("pods", namespace)
    http = kube._http  # the bench reuses the client's connection settings for a streaming watch
    version = (await kube.request("GET", path)).get("metadata", {}).get("resourceVersion", "")
    while not stop.is_set():
        params = {"watch": "1", "timeoutSeconds": "600", "resourceVersion": version, "allowWatchBookmarks": "true"}
        try:
            async with http.stream("GET", path, params=params, headers=kube._headers(), timeout=None) as response:
                async for line in _lines(response):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event.get("type") == "ADDED":
                        on_added(obj, time.monotonic())
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            await asyncio.sleep(0.2)


async def _lines(response: httpx.Response) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        if line.strip():
            yield line


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
