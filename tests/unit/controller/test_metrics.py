"""The operator's memory metrics: each attempt's requested and peak memory counted once."""

from __future__ import annotations

from prometheus_client import generate_latest

from task_api.controller.metrics import Metrics


def taskrun(uid: str, *peaks: tuple[int, int, bool]) -> dict[str, object]:
    return {
        "metadata": {"uid": uid},
        "spec": {"taskTemplate": "read-all"},
        "status": {
            "template": "read-all",
            "image": "reg/x@sha256:" + "a" * 64,
            "memory": {
                "peaks": [
                    {"attempt": n, "pod": f"p-a{n}", "peakBytes": peak, "peak": "x", "request": "100Mi",
                     "oomKilled": oom, "source": "t"}
                    for n, (peak, _, oom) in enumerate(peaks, start=1)
                ]
            },
        },
    }  # fmt: skip


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


def test_each_attempt_counts_once_however_often_the_run_is_seen() -> None:
    metrics = Metrics()
    labels = {"template": "read-all", "image": "reg/x"}
    for _ in range(3):  # watch events repeat the same status
        metrics.observe_usage(taskrun("u1", (50 * 2**20, 0, False)))
    metrics.observe_usage(taskrun("u1", (50 * 2**20, 0, False), (120 * 2**20, 0, True)))
    assert sample(metrics, "task_api_memory_requested_bytes_total", **labels) == 2 * 100 * 2**20
    assert sample(metrics, "task_api_memory_peak_bytes_total", **labels) == 170 * 2**20
    assert sample(metrics, "task_api_memory_attempts_total", **labels, oom="true") == 1
    assert sample(metrics, "task_api_memory_peak_ratio_count", template="read-all") == 2
    assert b"task_api_memory_peak_ratio_bucket" in generate_latest(metrics.registry)


def test_a_run_without_peaks_counts_nothing() -> None:
    metrics = Metrics()
    metrics.observe_usage({"metadata": {"uid": "u"}, "status": {}})
    assert sample(metrics, "task_api_memory_attempts_total", template="", image="", oom="false") == 0
