"""The test bed's life cycle: SIGKILL recovery, clean teardown, up after down.

These tests drive a *second* test bed (``hack/testbed/profiles/lifecycle.env``: its own state directory,
addresses, ports, CNI network and cgroup root), so that they never restart the shared one that other tests,
and other people's runs on this machine, are using. Same scripts, same configuration otherwise.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.testbed import ROOT, Testbed, profile_settings, wait_for

pytestmark = pytest.mark.cluster

HACK = ROOT / "hack" / "testbed"
PROFILE = "lifecycle"
SECOND_BED = profile_settings(PROFILE)
STATE = Path(SECOND_BED["TASK_API_TESTBED_DIR"])
SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory")


def run(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(HACK / script), *args],
        env={**os.environ, "TESTBED_PROFILE": PROFILE},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def assert_healthy() -> None:
    status = run("status.sh", check=False)
    assert status.returncode == 0, status.stdout + status.stderr


def sysctls() -> dict[str, str]:
    return {k: Path("/proc/sys", k.replace(".", "/")).read_text().strip() for k in SYSCTLS}


def mounts_under(directory: Path) -> list[str]:
    prefix = f"{directory}/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def shim_sockets() -> list[Path]:
    tasks = STATE / "containerd/state/io.containerd.runtime.v2.task/k8s.io"
    return sorted({Path(f.read_text().removeprefix("unix://")) for f in tasks.glob("*/address")})


def bed_processes() -> dict[int, str]:
    """Every process of the second bed, found the way down.sh finds them (never by name)."""
    found: dict[int, str] = {}
    for pidfile in (STATE / "run").glob("*.pid"):
        pid, binary = pidfile.read_text().split()
        try:
            if os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)") == binary:
                found[int(pid)] = pidfile.stem
        except OSError:
            pass
    root = SECOND_BED["TESTBED_CGROUP_ROOT"].lstrip("/")
    for procs in Path("/sys/fs/cgroup").glob(f"*/{root}/kubepods/**/cgroup.procs"):
        for pid in procs.read_text().split():
            found[int(pid)] = "pod process"
    for sock in shim_sockets():
        listing = subprocess.run(["ss", "-xlpH", "src", str(sock)], capture_output=True, text=True, check=False)
        for pid in re.findall(r"pid=(\d+)", listing.stdout):
            found[int(pid)] = "containerd shim"
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def start_pod_with_volume(bed: Testbed, namespace: str) -> None:
    """A running pod with a PVC (a bind mount), a projected token (a tmpfs), a sandbox and a veth."""
    core: Any = bed.core_v1
    core.create_namespace({"metadata": {"name": namespace}})
    wait_for(
        "the default ServiceAccount",
        lambda: bool(core.list_namespaced_service_account(namespace).items),
        timeout=30,
    )
    bed.make_pvc(namespace, "data", "8Mi")
    pause_image = json.loads((STATE / "testbed.json").read_text())["pause_image"]
    pod = {
        "metadata": {"name": "sleeper"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": pause_image,
                    "imagePullPolicy": "Never",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    core.create_namespaced_pod(namespace, pod)
    wait_for(
        "the pod to run",
        lambda: core.read_namespaced_pod("sleeper", namespace).status.phase == "Running",
        timeout=60,
    )


@pytest.fixture
def second_bed() -> Any:
    """Makes sure the second bed is gone afterwards, whatever the test did."""
    yield
    run("down.sh", "--purge", "--quiet", check=False)


@pytest.mark.timeout(900)
def test_up_recovers_after_sigkill_and_down_leaves_the_machine_clean(second_bed: None) -> None:
    before = sysctls()

    # 1. A bed with a pod that has a volume, a token, a network namespace and a shim.
    run("up.sh")
    start_pod_with_volume(Testbed.load(STATE), "before-kill")

    # 2. The end of a session: every process SIGKILLed, nothing cleaned up.
    victims = bed_processes()
    assert {"kubelet", "containerd", "kube-apiserver", "etcd", "registry", "containerd shim"} <= set(
        victims.values()
    ), victims
    assert "pod process" in victims.values(), victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    wait_for("the killed processes to exit", lambda: not any(alive(p) for p in victims), timeout=30)
    sockets = shim_sockets()
    assert mounts_under(STATE), "a killed bed leaves mounts behind: the rest of the test would prove nothing"
    assert link_exists(SECOND_BED["TESTBED_CNI_BRIDGE"])
    assert run("status.sh", "--quiet", check=False).returncode != 0

    # 3. up.sh recovers: a new, empty cluster with a Ready node.
    run("up.sh")
    assert_healthy()
    assert all(not s.exists() for s in sockets), "stale shim sockets were left in /run/containerd/s"
    bed = Testbed.load(STATE)
    names = [ns.metadata.name for ns in bed.core_v1.list_namespace().items]
    assert "before-kill" not in names
    start_pod_with_volume(bed, "after-recovery")
    sockets = shim_sockets()

    # 4. down.sh stops it all and leaves nothing: leftovers.sh checks processes, mounts, interfaces,
    #    iptables rules, cgroups, host paths and kernel settings; a few are checked here directly too.
    victims = bed_processes()
    run("down.sh")
    assert run("leftovers.sh", check=False).stdout == ""
    assert not any(alive(p) for p in victims)
    assert mounts_under(STATE) == []
    assert not link_exists(SECOND_BED["TESTBED_CNI_BRIDGE"])
    assert not link_exists(SECOND_BED["TESTBED_NODE_IFACE"])
    assert all(not s.exists() for s in sockets)
    assert sysctls() == before
    root = SECOND_BED["TESTBED_CGROUP_ROOT"].lstrip("/")
    assert list(Path("/sys/fs/cgroup").glob(f"*/{root}")) == []
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert SECOND_BED["TESTBED_POD_CIDR"].rsplit(".", 1)[0] + "." not in rules

    # 5. up after down works.
    run("up.sh")
    assert_healthy()
