"""Everything an administrator decides about image inspection, in one object the operator's configuration builds.

:class:`InspectionSettings` holds the :class:`~task_api.image.limits.InspectionLimits` (time, bytes, layers,
indirections), the :class:`~task_api.image.egress.EgressPolicy` (where inspections may connect) and the size of the
:class:`~task_api.image.gate.InspectionGate` (how many run at once, overall and per namespace).
:meth:`InspectionSettings.from_env` reads every ``TASK_API_INSPECT_*`` and ``TASK_API_EGRESS_*`` key
(docs/deploy.md); ``task_api/controller/config.py`` calls it and passes the result on:

.. code-block:: python

    settings = InspectionSettings.from_env(env, workers=config.workers)
    gate = settings.gate()
    inspection = await gate.run(namespace, inspect_image, image, credentials=creds, cache=cache,
                                limits=settings.limits, egress=settings.egress)

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from task_api.image.egress import EgressPolicy
from task_api.image.gate import InspectionGate
from task_api.image.limits import InspectionLimits

__all__ = ["InspectionSettings"]


@dataclass(frozen=True)
class InspectionSettings:
    """Limits, egress policy and concurrency of the operator's inspections."""

    limits: InspectionLimits = field(default_factory=InspectionLimits)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    #: Inspections at once (each holds a reconcile worker until it ends).
    slots: int = 4
    #: Of those, at most this many for one namespace.
    slots_per_namespace: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, workers: int) -> InspectionSettings:
        """The settings from the operator's keys (pure). Raises ValueError naming the key.

        ``TASK_API_INSPECT_SLOTS`` defaults to a quarter of ``workers`` (at least 1),
        ``TASK_API_INSPECT_SLOTS_PER_NAMESPACE`` to half the slots (at least 1).
        """
        limits = InspectionLimits.from_env(env)
        egress = EgressPolicy.from_env(env)
        slots = _positive(env, "TASK_API_INSPECT_SLOTS", max(1, workers // 4))
        per_namespace = _positive(env, "TASK_API_INSPECT_SLOTS_PER_NAMESPACE", max(1, slots // 2))
        if per_namespace > slots:
            raise ValueError(
                f"TASK_API_INSPECT_SLOTS_PER_NAMESPACE: given {per_namespace}; allowed at most "
                f"TASK_API_INSPECT_SLOTS ({slots})"
            )
        return cls(limits=limits, egress=egress, slots=slots, slots_per_namespace=per_namespace)

    def gate(self) -> InspectionGate:
        """A gate of this size (one per operator process)."""
        return InspectionGate(slots=self.slots, per_tenant=self.slots_per_namespace)


def _positive(env: Mapping[str, str], key: str, default: int) -> int:
    text = env.get(key, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{key}: given {text!r}; allowed a whole number ≥ 1")
    return int(text)
