"""What the reconciler knows when it decides: the run's surroundings, read once per pass (by the controller's
*prepare* step), and the administrator's policy. Pure data.

A read that failed in a way the run must report is carried as a :class:`Halt` in place of the value, so the pure
decision (:func:`task_api.core.taskrun.decide.decide`) turns it into the run's status like any other fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from task_api.core.memory_usage import Observation
from task_api.core.rightsize import RightSizingSettings
from task_api.core.taskrun.observed_pods import ObservedPod
from task_api.spec import ProcessingContainer
from task_api.spec.crd.taskrun import TaskRunReason, TaskRunStatus

__all__ = [
    "CredentialsUnusable",
    "Halt",
    "Policy",
    "RegistryCredentials",
    "TemplateSource",
    "UpstreamView",
    "World",
]


@dataclass(frozen=True)
class Halt:
    """Why the run cannot go on now: the condition's reason and message. ``transient`` halts are looked at again
    with the work queue's backoff; a final reason ends the run."""

    reason: TaskRunReason
    message: str
    transient: bool = False
    #: Look again after this many seconds instead of the growing backoff: a shared resource that is only busy
    #: (no inspection slot free). With the backoff, the runs that keep it busy would starve the ones that wait.
    retry_after: float | None = None


@dataclass(frozen=True)
class TemplateSource:
    """Where a run's template comes from, resolved: the processing container, the image pinned by digest, and
    the pull secrets pods of that image need."""

    container: ProcessingContainer
    image: str
    digest: str
    pull_secrets: tuple[str, ...] = ()
    #: The ProcessingContainer's ``spec.memoryRightSizing`` (as on the wire), when the template came from one.
    right_sizing: Mapping[str, object] | None = None


@dataclass(frozen=True)
class UpstreamView:
    """A ``fromTaskRun`` upstream as found: its uid (a new uid under a seen name means the original was deleted)
    and its status."""

    uid: str
    status: TaskRunStatus


@dataclass(frozen=True)
class RegistryCredentials:
    """What ``spec.registryCredentialsSecret`` holds, and the registry (host) it is for. Never printed."""

    registry: str
    username: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class CredentialsUnusable:
    """The ``registryCredentialsSecret`` cannot be used: missing, not readable, not opted in, or without
    ``username`` and ``password`` — which one is deliberately not kept (no message may tell whether a Secret
    exists)."""

    secret: str


@dataclass(frozen=True)
class World:
    """Everything a pass reads, for one TaskRun. Fields a pass did not need (a finished run reads no template)
    stay at their defaults."""

    template: TemplateSource | Halt | None = None
    #: By upstream TaskRun name; None: no TaskRun of that name exists.
    upstreams: Mapping[str, UpstreamView | None] = field(default_factory=dict)
    #: The registry credentials, read only when the run's registry Secret must be made.
    credentials: RegistryCredentials | CredentialsUnusable | Halt | None = None
    #: Who owns the run's registry Secret ``<run>-registry``: the uid of the TaskRun of this name that controls it,
    #: ``""`` when anything else does (or nothing); None when it does not exist (or was not read).
    registry_secret_owner: str | None = None
    #: The pods carrying this run's name as their owner (a deleted namesake's pods included: their uid differs).
    pods: tuple[ObservedPod, ...] = ()
    #: PersistentVolumeClaims the run mounts, read before its first pod: name → whether it exists.
    claims: Mapping[str, bool] = field(default_factory=dict)
    #: A chain of ``fromTaskRun`` upstreams that leads back to this run (``a → b → a``), if one was found.
    upstream_cycle: tuple[str, ...] = ()
    #: Right-sizing as it applies to this run, and what earlier runs of its image digest and template used.
    right_sizing: RightSizingSettings = field(default_factory=RightSizingSettings)
    history: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class Policy:
    """What the administrator decides (from the operator's configuration), as far as decisions need it."""

    workspace_claim: str = "task-api-workspace"
    allowed_host_path_roots: tuple[str, ...] = ()
    #: The operator's own image: measuring pods and the legacy staging step run it.
    measure_image: str = ""
    measure_image_pull_secrets: tuple[str, ...] = ()
    max_memory_bytes: int = 16 * 1024**3
    upstream_grace_seconds: float = 300.0
    #: How long a run may wait for what may never come (a claim, quota, a node), unless its spec says otherwise.
    pending_timeout_seconds: float = 3600.0
    #: The non-root identity of task containers (uid, gid; the gid is also the pod's fsGroup).
    run_as_user: int = 1000
    run_as_group: int = 1000
    #: Namespaces whose TaskRuns may ask for root (``spec.runAsRoot``); ``*`` stands for every namespace.
    root_namespaces: tuple[str, ...] = ()

    def allows_root(self, namespace: str) -> bool:
        """Pure: whether TaskRuns of ``namespace`` may run their containers as the image's user (often root)."""
        return "*" in self.root_namespaces or namespace in self.root_namespaces
