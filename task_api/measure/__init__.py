"""Measure input channels for scale rules: how many bytes a rule's files take (docs/scale-rules.md).

Shared by the local Docker runner (which measures host directories before starting a container) and by the
Kubernetes operator (whose *measuring pod* mounts the input volumes read-only and runs ``python -m
task_api.measure``, see :mod:`task_api.measure.__main__`).

The public surface::

    measure(root, rule, *, channel, workers=0) -> Measurement     filesystem I/O
    MeasureError ── InputMissing, InputUnreadable, BadMeasureRequest

The walk streams (``os.scandir``, iterative; memory does not grow with the number of files), never follows
symbolic links, and uses a second process on a second CPU when that is safe (:mod:`task_api.measure._scan`).
"""

from __future__ import annotations

from task_api.measure.errors import (
    BadMeasureRequest,
    InputMissing,
    InputUnreadable,
    MeasureError,
    MeasureReason,
)
from task_api.measure.measuring import measure

__all__ = [
    "BadMeasureRequest",
    "InputMissing",
    "InputUnreadable",
    "MeasureError",
    "MeasureReason",
    "measure",
]
