"""The Kubernetes operator (front end): kopf watches, a work queue, and the TaskRun and ProcessingContainer
reconcilers. Run it with ``python -m task_api.controller``.

Modules:

* :mod:`~task_api.controller.handlers` — the kopf handlers (thin);
* :mod:`~task_api.controller.runtime` — where watched objects become typed; work queues and workers;
* :mod:`~task_api.controller.taskruns` — one TaskRun pass: :mod:`~task_api.controller.prepare` (reads), the pure
  :func:`~task_api.core.taskrun.decide.decide`, :mod:`~task_api.controller.apply` (writes),
  :mod:`~task_api.controller.finish` (events, metrics);
* :mod:`~task_api.controller.processing_containers` — one ProcessingContainer pass;
* :mod:`~task_api.controller.pod_index` — the operator's pods as the watch last showed them;
* :mod:`~task_api.controller.config`, :mod:`~task_api.controller.metrics` — settings and Prometheus metrics;
* :mod:`~task_api.controller.app` — assembly, health endpoints.

Template lookup lives in :mod:`task_api.kube.templates`, shared with the CLI and the Airflow operator.
"""
