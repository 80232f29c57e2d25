"""Environment values a TaskRun takes from Secrets (``env[].valueFrom.secretKeyRef``). Pure.

The operator never reads such a value: the pod names the Secret's key (``valueFrom.secretKeyRef``) and the kubelet
fills it in, so it appears in no TaskRun, status, event or log of the operator. The price: the value cannot be
checked against the template's type and choices, so only variables the template declares *adjustable* may come
from a Secret — a fixed value stays the template's, and an undeclared name (passed through with a warning when
literal) is refused rather than given a value nobody checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from task_api.spec import TaskTemplate
from task_api.spec.crd.taskrun import SecretKeySelector, TaskRunSpec
from task_api.spec.errors import Problem

__all__ = ["secret_env", "secret_env_problems", "stand_in_values"]


def secret_env(spec: TaskRunSpec) -> dict[str, SecretKeySelector]:
    """Pure: variable name → the Secret key its value comes from."""
    return {e.name: e.value_from.secret_key_ref for e in spec.env if e.value_from is not None}


def secret_env_problems(spec: TaskRunSpec, template: TaskTemplate) -> list[Problem]:
    """Pure: every ``valueFrom`` must name a variable the template declares adjustable (paths as in the TaskRun)."""
    declared = {var.name: var for var in template.env}
    problems = []
    for index, override in enumerate(spec.env):
        if override.value_from is None:
            continue
        var = declared.get(override.name)
        adjustable = sorted(v.name for v in template.env if v.adjustable)
        allowed = ", ".join(adjustable) or "(the template declares no adjustable env vars)"
        if var is None:
            problems.append(
                Problem(
                    path=f"spec.env[{index}].valueFrom",
                    message=f"{override.name} is not declared by template {template.identifier!r}; only declared, "
                    "adjustable variables may take their value from a Secret",
                    given=repr(override.name),
                    allowed=allowed,
                )
            )
        elif not var.adjustable:
            problems.append(
                Problem(
                    path=f"spec.env[{index}].valueFrom",
                    message=f"{var.name} is not adjustable in template {template.identifier!r}",
                    given=repr(override.name),
                    allowed=allowed,
                )
            )
    return problems


def stand_in_values(spec: TaskRunSpec, template: TaskTemplate) -> Mapping[str, str]:
    """Pure: for each variable taken from a Secret, the template's own value, which the merge checks in its place
    (the pod gets the Secret's key instead)."""
    declared = {var.name: var.value for var in template.env}
    return {name: declared.get(name, "") for name in secret_env(spec)}
