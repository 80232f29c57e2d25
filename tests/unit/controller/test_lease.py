"""Leader election on a Lease, in-process against the fake API server: one leader at a time, take-over after the
Lease expires or is released, and a leader that cannot renew stops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from task_api.kube import ClusterAccess, KubeClient
from task_api.kube.lease import LeaderElector, LeaseSettings
from tests.fakes.kube_api import FakeApiServer

LEASES = "/apis/coordination.k8s.io/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(factory: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(factory())  # type: ignore[arg-type]


def elector(kube: KubeClient, who: str, clock: Clock) -> LeaderElector:
    settings = LeaseSettings(namespace="ops", name="op", identity=who, retry_period=0.01, renew_deadline=0.05)
    return LeaderElector(kube, settings, clock=clock)


def test_one_leader_at_a_time_and_a_take_over_once_the_lease_expires() -> None:
    fake, clock = FakeApiServer(), Clock()

    async def scenario() -> tuple[bool, bool, dict[str, Any]]:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport()) as kube:
            a, b = elector(kube, "a", clock), elector(kube, "b", clock)
            await a.acquire()
            b_early = await b.try_acquire_or_renew()
            clock.now += 16  # a stopped renewing: the Lease is stale on b's clock after 15 s
            b_late = await b.try_acquire_or_renew()
            return b_early, b_late, fake.get(LEASES, "ops", "leases", "op") or {}

    b_early, b_late, lease = run(scenario)
    assert (b_early, b_late) == (False, True)
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1


def test_a_renewing_leader_keeps_the_lease() -> None:
    fake, clock = FakeApiServer(), Clock()

    async def scenario() -> bool:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport()) as kube:
            a, b = elector(kube, "a", clock), elector(kube, "b", clock)
            await a.acquire()
            for _ in range(5):
                clock.now += 10
                assert await a.try_acquire_or_renew()  # a renews: b sees a change every time
                if await b.try_acquire_or_renew():
                    return True
            return False

    assert run(scenario) is False


def test_a_released_lease_is_taken_at_once() -> None:
    fake, clock = FakeApiServer(), Clock()

    async def scenario() -> str:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport()) as kube:
            a, b = elector(kube, "a", clock), elector(kube, "b", clock)
            await a.acquire()
            assert not await b.try_acquire_or_renew()
            await a.release()
            await asyncio.wait_for(b.acquire(), timeout=2)
            return str((fake.get(LEASES, "ops", "leases", "op") or {})["spec"]["holderIdentity"])

    assert run(scenario) == "b"


def test_a_leader_that_cannot_renew_stops_leading() -> None:
    fake, clock = FakeApiServer(), Clock()

    async def scenario() -> bool:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport()) as kube:
            a = elector(kube, "a", clock)
            await a.acquire()
            # Another holder takes the Lease behind a's back (a partition healed the other way).
            fake.update(LEASES, "ops", "leases", "op", {"spec": {"holderIdentity": "z"}})

            async def tick() -> None:
                while True:
                    clock.now += 0.02
                    await asyncio.sleep(0.005)

            ticker = asyncio.create_task(tick())
            await asyncio.wait_for(a.keep(), timeout=5)
            ticker.cancel()
            return a.leading

    assert run(scenario) is False


def test_a_stopping_leader_stops_its_work_loops_before_it_releases_the_lease() -> None:
    """The shutdown order of a leading replica (task_api/controller/app.py:stop_leading): workers stopped, then the
    Lease released — and not released at all by a replica that lost it."""
    from task_api.controller.app import build_runtime, stop_leading  # noqa: PLC0415
    from task_api.controller.config import OperatorConfig  # noqa: PLC0415
    from task_api.controller.metrics import Metrics  # noqa: PLC0415

    def scenario(lost: bool) -> tuple[list[bool], dict[str, Any], float]:
        fake, clock = FakeApiServer(), Clock()
        alive_at_release: list[bool] = []

        async def go() -> tuple[list[bool], dict[str, Any], float]:
            async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=fake.transport()) as kube:
                metrics = Metrics()
                runtime = build_runtime(kube, OperatorConfig(measure_image="reg.example/op:1"), metrics)
                a = elector(kube, "a", clock)
                await a.acquire()
                runtime.start()
                metrics.leader.set(1)
                keeper = asyncio.create_task(a.keep())
                fake.before_write = lambda method, path, body: (
                    alive_at_release.append(runtime.alive) if path.endswith("/leases/op") else None
                )
                await stop_leading(runtime, a, keeper=keeper, lost=lost, metrics=metrics)
                value = metrics.registry.get_sample_value("task_api_leader") or 0.0
                return alive_at_release, fake.get(LEASES, "ops", "leases", "op") or {}, value

        result: tuple[list[bool], dict[str, Any], float] = run(go)
        return result

    alive, lease, leader = scenario(lost=False)
    assert alive == [False]  # one write to the Lease, made once the work loops had stopped
    assert lease["spec"].get("holderIdentity") is None
    assert leader == 0.0
    alive, lease, leader = scenario(lost=True)
    assert alive == []  # a replica that lost the Lease does not touch it
    assert lease["spec"]["holderIdentity"] == "a"
    assert leader == 0.0


class Outage:
    """An API server that stops answering while ``down`` is set (connection refused), in front of the fake."""

    def __init__(self, fake: FakeApiServer) -> None:
        self.fake = fake
        self.down = False

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            return self.fake.handle(request)

        return httpx.MockTransport(handle)


def test_a_standby_waits_out_an_api_outage_instead_of_taking_it_for_leadership() -> None:
    fake, clock = FakeApiServer(), Clock()
    outage = Outage(fake)

    async def scenario() -> tuple[bool, bool, str]:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=outage.transport()) as kube:
            a, b = elector(kube, "a", clock), elector(kube, "b", clock)
            await a.acquire()
            outage.down = True
            waiting = asyncio.create_task(b.acquire())
            await asyncio.sleep(0.1)  # b keeps trying while the API server is down
            during = waiting.done()
            outage.down = False
            await asyncio.sleep(0.05)  # b sees a's Lease, fresh on its clock: still standing by
            during = during or waiting.done()
            clock.now += 16  # a is gone: its Lease runs out on b's clock
            await asyncio.wait_for(waiting, timeout=2)
            return during, b.leading, str((fake.get(LEASES, "ops", "leases", "op") or {})["spec"]["holderIdentity"])

    assert run(scenario) == (False, True, "b")


def test_a_leader_cut_off_stops_leading_then_takes_its_lease_back_when_the_api_answers() -> None:
    """The same identity takes its own Lease back at once (nobody else took it); the process need not restart."""
    fake, clock = FakeApiServer(), Clock()
    outage = Outage(fake)

    async def scenario() -> tuple[bool, bool, int]:
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=outage.transport()) as kube:
            a = elector(kube, "a", clock)
            await a.acquire()
            outage.down = True

            async def tick() -> None:
                while True:
                    clock.now += 0.02
                    await asyncio.sleep(0.005)

            ticker = asyncio.create_task(tick())
            await asyncio.wait_for(a.keep(), timeout=5)  # returns: it could not renew for the renew deadline
            stopped = not a.leading
            outage.down = False
            await asyncio.wait_for(a.acquire(), timeout=0.5)  # the first try succeeds: no Lease expiry to wait for
            ticker.cancel()
            lease = fake.get(LEASES, "ops", "leases", "op") or {}
            return stopped, a.leading, int(lease["spec"]["leaseTransitions"])

    assert run(scenario) == (True, True, 0)  # never another holder in between


def test_a_renewal_that_hangs_does_not_keep_a_leader_past_its_deadline() -> None:
    """The API server takes the request and never answers (a partition dropping packets): keep() gives up when the
    renew deadline comes, not when the client's own 30 s time-out would."""
    fake = FakeApiServer()
    hanging = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        if hanging.is_set():
            await asyncio.sleep(3600)
        return fake.handle(request)

    async def scenario() -> bool:
        transport = httpx.MockTransport(handle)
        async with KubeClient(ClusterAccess(server="http://fake.invalid"), transport=transport) as kube:
            settings = LeaseSettings(namespace="ops", name="op", identity="a", retry_period=0.01, renew_deadline=0.2)
            a = LeaderElector(kube, settings)
            await a.acquire()
            hanging.set()
            await asyncio.wait_for(a.keep(), timeout=5)
            return a.leading

    assert run(scenario) is False  # keep() returned (the 5 s guard above did not fire) and the replica stopped leading
