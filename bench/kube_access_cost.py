"""What the `kubernetes` package costs the processes that now load their cluster access through it.

For each front end, fresh interpreters import what it imports and load a kubeconfig, alternately:

* baseline — the ``kubernetes`` package made unimportable (as in the operator image before it was added: kopf then
  skips its optional use of it too), importing the same modules without loading any configuration;
* with the loader — the same imports, then ``ClusterAccess.load`` (which imports the package and runs its loader).

Prints the median CPU and wall time of imports plus load (CPU time is the steadier figure on a shared machine), and
the resident memory (VmRSS) afterwards, with the ratio and difference to the baseline. A kubeconfig with an inline
client certificate is written to a temporary directory (no cluster is contacted).

Usage: python -m bench.kube_access_cost [ROUNDS]   (default 7)
"""

from __future__ import annotations

import base64
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FRONT_ENDS = {
    "operator": "import task_api.controller.app",
    "cli run --mode k8s": "import task_api.cli.run_k8s, task_api.kube.taskruns",
    "airflow operator (without airflow)": "import task_api.kube.taskruns, task_api.core.task_to_taskrun",
}

PROBE = """
import sys, time
if {block}:
    sys.modules["kubernetes"] = None  # unimportable, as in an environment without the package
t0, c0 = time.perf_counter(), time.process_time()
{imports}
if not {block}:
    from task_api.kube import ClusterAccess
    ClusterAccess.load(kubeconfig={kubeconfig!r})
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(elapsed, cpu, rss)
"""


def measure(imports: str, *, block: bool, kubeconfig: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, RSS MiB) of one fresh interpreter."""
    code = PROBE.format(block=block, imports=imports, kubeconfig=kubeconfig)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    elapsed, cpu, rss_kib = out.split()
    return float(elapsed), float(cpu), int(rss_kib) / 1024


def write_kubeconfig(directory: Path) -> str:
    b64 = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"client-certificate-data": b64, "client-key-data": b64}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = directory / "config"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return str(path)


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp))
        for name, imports in FRONT_ENDS.items():
            base: list[tuple[float, float, float]] = []
            loader: list[tuple[float, float, float]] = []
            for _ in range(rounds):  # alternate, so machine load affects both sides alike
                base.append(measure(imports, block=True, kubeconfig=kubeconfig))
                loader.append(measure(imports, block=False, kubeconfig=kubeconfig))
            b = [statistics.median(x[i] for x in base) for i in range(3)]
            w = [statistics.median(x[i] for x in loader) for i in range(3)]
            print(f"{name}:")
            print(
                f"  baseline (no kubernetes package): {b[0] * 1000:6.0f} ms wall, {b[1] * 1000:6.0f} ms CPU, "
                f"{b[2]:6.1f} MiB RSS"
            )
            print(
                f"  with the package's loader:        {w[0] * 1000:6.0f} ms wall, {w[1] * 1000:6.0f} ms CPU, "
                f"{w[2]:6.1f} MiB RSS"
            )
            print(
                f"  cost: +{(w[1] - b[1]) * 1000:.0f} ms CPU (ratio {w[1] / b[1]:.2f}), "
                f"+{(w[0] - b[0]) * 1000:.0f} ms wall (ratio {w[0] / b[0]:.2f}), "
                f"+{w[2] - b[2]:.1f} MiB RSS (ratio {w[2] / b[2]:.2f})"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
