"""Requests through the `kubernetes` client or through our httpx transport, both configured by the package's loader.

The decision behind task_api.kube: the operator and the clients load their configuration with the `kubernetes`
package, and send requests with task_api.kube.client (httpx, asyncio). This measures the alternative on the test bed,
in one run: N reads of one TaskRun (a custom object, as the operator reads) and N creates of ConfigMaps, at
concurrency 1 and 32, through

* httpx — task_api.kube.KubeClient (the baseline);
* kubernetes — ``CustomObjectsApi`` / ``CoreV1Api`` of the official client (synchronous: concurrency by a thread
  pool, as an asyncio program would have to use it), models deserialised as the client does by default;
* kubernetes.aio — the same generated API on asyncio (aiohttp), which the package also ships.

Prints requests per second and the process CPU time per request for each, with the ratio to httpx.

Usage: python -m bench.kube_transport [N]   (default 300; needs the test bed, and the CRDs from make deploy-testbed)
"""

from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._cluster import client, delete_namespace, fresh_namespace, taskruns, testbed_info
from task_api.kube.client import core_path

NAMESPACE = "bench-transport"


def run_taskrun() -> dict[str, Any]:
    return {
        "apiVersion": "task-api.io/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "read-me"},
        # Fails at once (no registry there); deleted with the namespace.
        "spec": {"image": "127.0.0.1:9/none:never", "taskTemplate": "none"},
    }


async def httpx_side(info: dict[str, Any], n: int, concurrency: int, what: str) -> tuple[float, float]:
    gate = asyncio.Semaphore(concurrency)
    async with client(info) as kube:

        async def one(i: int) -> None:
            async with gate:
                if what == "get":
                    await kube.get(taskruns(NAMESPACE, "read-me"))
                else:
                    body = {"metadata": {"name": f"h{concurrency}-{i}"}, "data": {"k": "v"}}
                    await kube.create(core_path("configmaps", NAMESPACE), body)

        await one(-1) if what == "get" else None  # warm the connection
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - wall, time.process_time() - cpu


def kubernetes_side(info: dict[str, Any], n: int, concurrency: int, what: str) -> tuple[float, float]:
    from kubernetes import client as k8s  # noqa: PLC0415
    from kubernetes import config  # noqa: PLC0415

    api_client = config.new_client_from_config(config_file=info["kubeconfig"])  # type: ignore[no-untyped-call]
    api_client.configuration.connection_pool_maxsize = concurrency
    api_client.rest_client = type(api_client.rest_client)(api_client.configuration)
    custom, core = k8s.CustomObjectsApi(api_client), k8s.CoreV1Api(api_client)

    def one(i: int) -> None:
        if what == "get":
            custom.get_namespaced_custom_object("task-api.io", "v1alpha1", NAMESPACE, "taskruns", "read-me")
        else:
            body = {"metadata": {"name": f"k{concurrency}-{i}"}, "data": {"k": "v"}}
            core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]  # a dict is accepted

    if what == "get":
        one(-1)
    with ThreadPoolExecutor(concurrency) as pool:
        cpu, wall = time.process_time(), time.perf_counter()
        list(pool.map(one, range(n)))
        elapsed, used = time.perf_counter() - wall, time.process_time() - cpu
    api_client.close()
    return elapsed, used


async def aio_side(info: dict[str, Any], n: int, concurrency: int, what: str) -> tuple[float, float]:
    from kubernetes.aio import client as k8s  # noqa: PLC0415
    from kubernetes.aio import config  # noqa: PLC0415

    configuration = k8s.Configuration()
    await config.load_kube_config(config_file=info["kubeconfig"], client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = concurrency
    api_client = k8s.ApiClient(configuration)
    custom, core = k8s.CustomObjectsApi(api_client), k8s.CoreV1Api(api_client)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            if what == "get":
                await custom.get_namespaced_custom_object("task-api.io", "v1alpha1", NAMESPACE, "taskruns", "read-me")
            else:
                body = {"metadata": {"name": f"a{concurrency}-{i}"}, "data": {"k": "v"}}
                await core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]

    if what == "get":
        await one(-1)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed, used = time.perf_counter() - wall, time.process_time() - cpu
    await api_client.close()  # type: ignore[no-untyped-call]
    return elapsed, used


async def main(n: int) -> None:
    info = testbed_info()
    async with client(info) as kube:
        await fresh_namespace(kube, info, NAMESPACE)
        await kube.create(taskruns(NAMESPACE), run_taskrun())
    try:
        for what in ("get", "create"):
            for concurrency in (1, 32):
                h_wall, h_cpu = await httpx_side(info, n, concurrency, what)
                k_wall, k_cpu = await asyncio.to_thread(kubernetes_side, info, n, concurrency, what)
                a_wall, a_cpu = await aio_side(info, n, concurrency, what)
                label = "GET taskrun" if what == "get" else "POST configmap"
                print(f"{label}, concurrency {concurrency:2d}, {n} requests:")
                print(f"  httpx (baseline):        {n / h_wall:7.1f} req/s, {h_cpu / n * 1e6:6.0f} µs CPU/request")
                for side, wall, cpu in (("kubernetes (threads)", k_wall, k_cpu), ("kubernetes.aio", a_wall, a_cpu)):
                    print(
                        f"  {side + ':':23s} {n / wall:7.1f} req/s, {cpu / n * 1e6:6.0f} µs CPU/request "
                        f"(ratio to httpx: throughput {h_wall / wall:.2f}, CPU/request {cpu / h_cpu:.2f})"
                    )
    finally:
        async with client(info) as kube:
            await delete_namespace(kube, NAMESPACE)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
