"""Prometheus metrics of the operator (served on ``/metrics``).

Kept in one module so the names are documented in one place:

* ``task_api_reconciles_total{kind, result}`` — reconciles by resource kind and result (ok, requeue, error);
* ``task_api_reconcile_duration_seconds{kind}`` — how long reconciles take;
* ``task_api_taskruns_finished_total{reason}`` — finished runs by outcome (Succeeded, Failed, OOMKilled, …);
* ``task_api_pods_created_total{role}`` — pods created (task or measure);
* ``task_api_workqueue_depth{kind}`` — keys waiting;
* ``task_api_leader`` — 1 while this replica holds the leader Lease (and reconciles), 0 while it stands by.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
