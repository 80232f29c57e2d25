"""The Docker runner's legacy hook: stage the legacy layout on the host and mount it at ``WORKFLOW_DIR`` (I/O).

Called by :func:`task_api.runner.local.start` just before the container is created. For an ordinary task it returns
the create body unchanged and touches nothing.

The scratch directory is made with :func:`tempfile.mkdtemp` (``$TMPDIR``, prefix ``task-api-legacy-``) and named
in the container's label ``io.task-api.legacy-workflow-dir``; it is left in place after the run (it is the legacy
``WORKFLOW_DIR``, useful when debugging) — remove it when the run's record goes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from task_api.core.legacy import adapt_container_config, check_task
from task_api.legacy.stage import stage
from task_api.spec.resolved import ResolvedTask

__all__ = ["prepare_docker"]


def prepare_docker(
    task: ResolvedTask,
    config: Mapping[str, Any],
    host_paths: Mapping[str, str],
    *,
    source: str = "task",
) -> dict[str, Any]:
    """The container's create body, staged for a legacy template; ``config`` itself for any other (I/O).

    ``host_paths`` maps channel names to the host directories bound for them. Raises
    :class:`~task_api.core.legacy.LegacyError` (a :class:`~task_api.spec.SpecError`) when the input does not fit
    the layout; the scratch directory is then removed again.
    """
    layout = check_task(task, source=source)
    if layout is None:
        return dict(config)
    workflow = Path(tempfile.mkdtemp(prefix="task-api-legacy-"))
    try:
        stage(
            layout,
            task.env,
            workflow_root=workflow,
            input_root=Path(host_paths[layout.input]),
            output_root=Path(host_paths[layout.output]),
        )
    except BaseException:
        shutil.rmtree(workflow, ignore_errors=True)
        raise
    return adapt_container_config(config, layout=layout, workflow_host_dir=str(workflow))
