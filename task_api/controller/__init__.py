"""The Kubernetes operator (front end): kopf watches, a work queue, and the TaskRun and ProcessingContainer
reconcilers. Run it with ``python -m task_api.controller``.

Modules:

* :mod:`~task_api.controller.handlers` — the kopf handlers (thin);
* :mod:`~task_api.controller.runtime` — work queues and workers;
* :mod:`~task_api.controller.taskruns`, :mod:`~task_api.controller.processing_containers` — the reconcilers;
* :mod:`~task_api.controller.templates` — template resolution (ProcessingContainer status or image inspection);
* :mod:`~task_api.controller.config`, :mod:`~task_api.controller.metrics` — settings and Prometheus metrics.
"""
