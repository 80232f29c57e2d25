"""Prometheus metrics of the operator (served on ``/metrics``).

Kept in one module so the names are documented in one place:

* ``task_api_reconciles_total{kind, result}`` — reconciles by resource kind and result (ok, requeue, error);
* ``task_api_reconcile_duration_seconds{kind}`` — how long reconciles take;
* ``task_api_taskruns_finished_total{reason}`` — finished runs by outcome (Succeeded, Failed, OOMKilled, …);
* ``task_api_pods_created_total{role}`` — pods created (task or measure);
* ``task_api_workqueue_depth{kind}`` — keys waiting;
* ``task_api_leader`` — 1 while this replica holds the leader Lease (and reconciles), 0 while it stands by;
* ``task_api_memory_requested_bytes_total{template, image}``, ``task_api_memory_peak_bytes_total{template, image}``
  and ``task_api_memory_attempts_total{template, image, oom}`` — what attempts asked for and really used (the node
  agent's peaks): a dashboard's over-provisioning is ``1 - rate(peak) / rate(requested)`` per template;
* ``task_api_memory_peak_ratio{template}`` — peak / requested per attempt.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from task_api.core.rightsize import usage_samples

#: How many (run, attempt) pairs are remembered as counted: enough for every attempt recorded within the time a
#: watch re-lists, bounded so memory stays flat.
_SEEN_ATTEMPTS = 20_000


class Metrics:
    """The operator's metrics, in their own registry (tests create as many operators as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reconciles = Counter(
            "task_api_reconciles",
            "Reconciles by kind and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "task_api_reconcile_duration_seconds",
            "Reconcile durations.",
            ["kind"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.finished = Counter(
            "task_api_taskruns_finished", "Finished TaskRuns by reason.", ["reason"], registry=self.registry
        )
        self.pods_created = Counter("task_api_pods_created", "Pods created.", ["role"], registry=self.registry)
        self.queue_depth = Gauge("task_api_workqueue_depth", "Keys waiting.", ["kind"], registry=self.registry)
        self.leader = Gauge("task_api_leader", "1 while this replica leads.", registry=self.registry)
        self.memory_requested = Counter(
            "task_api_memory_requested_bytes",
            "Memory requested by attempts with a recorded peak.",
            ["template", "image"],
            registry=self.registry,
        )
        self.memory_peak = Counter(
            "task_api_memory_peak_bytes",
            "Peak memory of attempts (node agent).",
            ["template", "image"],
            registry=self.registry,
        )
        self.memory_attempts = Counter(
            "task_api_memory_attempts",
            "Attempts with a recorded peak.",
            ["template", "image", "oom"],
            registry=self.registry,
        )
        self.memory_peak_ratio = Histogram(
            "task_api_memory_peak_ratio",
            "Peak over requested memory per attempt.",
            ["template"],
            registry=self.registry,
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5),
        )
        self._counted: OrderedDict[tuple[str, int], None] = OrderedDict()

    def observe_usage(self, taskrun: Mapping[str, object]) -> None:
        """Count each attempt's requested and peak memory once, when the node agent has recorded its peak."""
        for sample in usage_samples(taskrun):
            key = (sample.uid, sample.attempt)
            if key in self._counted:
                continue
            self._counted[key] = None
            if len(self._counted) > _SEEN_ATTEMPTS:
                self._counted.popitem(last=False)
            labels = {"template": sample.template, "image": sample.image}
            self.memory_peak.labels(**labels).inc(sample.peak_bytes)
            self.memory_attempts.labels(**labels, oom=str(sample.oom_killed).lower()).inc()
            if sample.requested_bytes:
                self.memory_requested.labels(**labels).inc(sample.requested_bytes)
                self.memory_peak_ratio.labels(template=sample.template).observe(
                    sample.peak_bytes / sample.requested_bytes
                )
