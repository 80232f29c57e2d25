"""Legacy (pre-Task-API) Kaapana processing containers: the pure half of running them unchanged under task-api.

Before the Task API, a Kaapana processing container found its data through an implicit layout and environment
variables set by Kaapana's base operator::

    WORKFLOW_DIR=/kaapana/mounted/data/<run_id>    BATCH_NAME=batch    BATCHES_INPUT_DIR=$WORKFLOW_DIR/$BATCH_NAME
    $BATCHES_INPUT_DIR/<element>/$OPERATOR_IN_DIR/   read, one directory per batch element
    $BATCHES_INPUT_DIR/<element>/$OPERATOR_OUT_DIR/  written
    $WORKFLOW_DIR/conf/conf.json                     the run's configuration (workflow_form keys also arrive
                                                     upper-cased as env vars)

or, for "workflow level" operators, ``$WORKFLOW_DIR/$OPERATOR_IN_DIR`` and ``$WORKFLOW_DIR/$OPERATOR_OUT_DIR``.

A migrated template (written by ``task-api legacy init``, see ``docs/migrating-legacy.md``) declares one input and
one output channel mounted outside that layout, and the reserved, non-adjustable env var :data:`MARKER_ENV` holding
the layout as JSON (a :class:`LegacyLayout`). Why an env var and not an ``x-`` extension key: extension keys are
ignored by every model (that is their contract), while env vars survive the merge unchanged into every front end's
:class:`~task_api.spec.ResolvedTask` and pod, so the runners and the operator need no extra plumbing.

Before the image runs, a *staging* step builds the legacy layout in a per-run scratch directory mounted at
``WORKFLOW_DIR``: each input element is copied (or linked) to ``<element>/$OPERATOR_IN_DIR``, and
``<element>/$OPERATOR_OUT_DIR`` is a symbolic link to ``<output channel>/<element>``, so what the legacy code writes
lands in the output channel as ``<element>/...`` — a normal output that downstream tasks read. conf.json is written
from :data:`CONF_ENV` plus the declared workflow_form variables. This module computes all of it; the I/O lives in
:mod:`task_api.legacy` (staging, the Docker runner's scratch directory). Nothing outside those two places knows
about legacy images: the runner and the operator call one hook each, which returns its argument unchanged when the
marker is absent.

Pure: no I/O.
"""

from task_api.core.legacy.answers import LegacyAnswers, template_for
from task_api.core.legacy.check import check_task
from task_api.core.legacy.hooks import adapt_container_config, adapt_task_pod, stage_transformer
from task_api.core.legacy.layout import (
    CONF_ENV,
    LEGACY_ENV_NAMES,
    MARKER_ENV,
    SCRATCH_VOLUME,
    STAGE_CONTAINER,
    LegacyError,
    LegacyLayout,
    LegacyMode,
    LegacyReason,
    StageKind,
    conf_document,
    layout_of,
    legacy_env,
)
from task_api.core.legacy.staging import Copy, Link, MakeDir, StageOperation, WriteFile, stage_operations

__all__ = [
    "CONF_ENV",
    "LEGACY_ENV_NAMES",
    "MARKER_ENV",
    "SCRATCH_VOLUME",
    "STAGE_CONTAINER",
    "Copy",
    "LegacyAnswers",
    "LegacyError",
    "LegacyLayout",
    "LegacyMode",
    "LegacyReason",
    "Link",
    "MakeDir",
    "StageKind",
    "StageOperation",
    "WriteFile",
    "adapt_container_config",
    "adapt_task_pod",
    "check_task",
    "conf_document",
    "layout_of",
    "legacy_env",
    "stage_operations",
    "stage_transformer",
    "template_for",
]
