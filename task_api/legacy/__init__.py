"""Legacy (pre-Task-API) Kaapana processing containers: the I/O half of running them unchanged.

The pure half is :mod:`task_api.core.legacy` (the layout, the migration, what to stage, the pod and container
hooks). Here:

* :mod:`task_api.legacy.stage` — builds the legacy directory layout (copies or links the input's elements,
  links the output, writes conf.json); also the program of the operator's staging init container
  (``python3 -m task_api.legacy.stage``);
* :mod:`task_api.legacy.docker` — the Docker runner's hook: a per-run scratch directory, staged on the host,
  bind-mounted at ``WORKFLOW_DIR``.

Nothing here runs for an ordinary template: every entry point first asks :func:`task_api.core.legacy.layout_of`.
See ``docs/migrating-legacy.md``.
"""

from task_api.legacy.docker import prepare_docker
from task_api.legacy.stage import StageReport, list_elements, stage

__all__ = ["StageReport", "list_elements", "prepare_docker", "stage"]
