"""Models of ``task.json``: one run of a template, binding its channels to storage and overriding settings.

A :class:`Task` names an image and a template (by identifier, or inline), binds each channel name to a
:class:`VolumeSource` (:class:`ChannelBinding`), overrides env vars, command and resources, and carries a
runner config: :class:`DockerConfig` or :class:`K8sConfig` (chosen by ``config.type``).
``registryPassword`` is a :class:`~pydantic.SecretStr`: it never appears in a repr, a log line or an
error message.

Pure: models and their validation only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
)

from task_api.spec._base import CrossProblem, ScalarStr, SpecModel, quote, spec_error
from task_api.spec.fields import ChannelName, EnvName, RelativePath
from task_api.spec.processing_container import (
    Resources,
    TaskTemplate,
    _dedupe,
    check_api_version,
)
from task_api.spec.scale_rule import ScaleRule, complexity_shorthand

__all__ = [
    "LINUX_CAPABILITIES",
    "ChannelBinding",
    "DockerConfig",
    "K8sConfig",
    "NfsVolume",
    "PvcVolume",
    "RunnerConfig",
    "Task",
    "TaskEnv",
    "VolumeSource",
]

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_NO_SPACE = re.compile(r"^\S+$")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise spec_error(
            "not a Kubernetes name (DNS label)",
            given=quote(value),
            allowed="1-63 lower-case letters, digits or '-', starting and ending with a letter or digit",
        )
    return value


def _dns_subdomain(value: str) -> str:
    if not _DNS_SUBDOMAIN.match(value):
        raise spec_error(
            "not a Kubernetes object name (DNS subdomain)",
            given=quote(value),
            allowed="lower-case letters, digits, '-' and '.', at most 253 characters",
        )
    return value


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
        raise spec_error(
            "not a Kubernetes label key",
            given=quote(value),
            allowed="[prefix/]name: name is 1-63 letters, digits, '-', '_' or '.'; prefix a DNS subdomain",
        )
    return value


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.match(value):
        raise spec_error(
            "not a Kubernetes label value",
            given=quote(value),
            allowed="empty, or 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
        )
    return value


def _no_space(value: str) -> str:
    if not _NO_SPACE.match(value):
        raise spec_error("must be non-empty and contain no whitespace", given=quote(value))
    return value


def _none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _empty_to_none(value: Any) -> Any:
    # Kaapana renders an unset {{ env.X }} as "" and means "not set" by it; "" is no valid value of these fields.
    return None if isinstance(value, str) and not value.strip() else value


#: An optional string field where an empty value means "not set".
Unset = BeforeValidator(_empty_to_none)


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
NoSpace = Annotated[str, AfterValidator(_no_space)]


class PvcVolume(SpecModel):
    """A PersistentVolumeClaim (Kubernetes only)."""

    claimName: DnsSubdomain
    readOnly: bool = False


class NfsVolume(SpecModel):
    """An NFS export (Kubernetes only)."""

    server: NoSpace
    path: Annotated[str, Field(pattern=r"^/")]
    readOnly: bool = False


_VOLUME_KINDS = ("host_path", "persistentVolumeClaim", "nfs")


class VolumeSource(SpecModel):
    """Where a channel's data lives: exactly one of ``host_path``, ``persistentVolumeClaim`` or ``nfs``.

    ``host_path`` is a directory on the machine that runs the container (relative paths are resolved
    against the task file's folder). ``subPath`` selects a folder inside a PVC or NFS volume.
    """

    host_path: Annotated[str, Field(min_length=1)] | None = None
    persistentVolumeClaim: PvcVolume | None = None
    nfs: NfsVolume | None = None
    subPath: RelativePath | None = None

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        given = [k for k in _VOLUME_KINDS if data.get(k) is not None]
        problems: list[CrossProblem] = []
        if len(given) != 1:
            problems.append(
                (
                    (),
                    "give exactly one kind of volume",
                    ", ".join(given) if given else "none",
                    ", ".join(_VOLUME_KINDS),
                )
            )
        if data.get("subPath") is not None and data.get("host_path") is not None:
            problems.append(
                (
                    ("subPath",),
                    "subPath applies to persistentVolumeClaim and nfs; extend host_path instead",
                    quote(data.get("subPath")),
                    None,
                )
            )
        return problems

    @property
    def kind(self) -> str:
        """``host_path``, ``persistentVolumeClaim`` or ``nfs``."""
        for kind in _VOLUME_KINDS:
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated VolumeSource without a kind")  # pragma: no cover

    def describe(self) -> str:
        """A one-line human description, e.g. ``pvc data/sub`` (no secrets live here)."""
        if self.host_path is not None:
            return f"host path {self.host_path}"
        if self.persistentVolumeClaim is not None:
            sub = f" subPath {self.subPath}" if self.subPath else ""
            return f"PVC {self.persistentVolumeClaim.claimName}{sub}"
        assert self.nfs is not None
        sub = f" subPath {self.subPath}" if self.subPath else ""
        return f"NFS {self.nfs.server}:{self.nfs.path}{sub}"


class ChannelBinding(SpecModel):
    """task.json's binding of a channel name to storage; a scale rule here replaces the template's."""

    # Kaapana's published guide still teaches `"input": {"host_path": ...}` (its models' older field name).
    renamed_keys: ClassVar[Mapping[str, str]] = {"input": "volume_source"}

    name: ChannelName
    volume_source: VolumeSource
    scale_rule: Annotated[ScaleRule | None, BeforeValidator(complexity_shorthand)] = None


class TaskEnv(SpecModel):
    """An env override in task.json."""

    name: EnvName
    value: ScalarStr


#: Linux capabilities (capabilities(7), without ``CAP_``) a Docker run may add back; every one is dropped by default.
LINUX_CAPABILITIES = frozenset(
    [
        "AUDIT_CONTROL",
        "AUDIT_READ",
        "AUDIT_WRITE",
        "BLOCK_SUSPEND",
        "BPF",
        "CHECKPOINT_RESTORE",
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "IPC_LOCK",
        "IPC_OWNER",
        "KILL",
        "LEASE",
        "LINUX_IMMUTABLE",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "MKNOD",
        "NET_ADMIN",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_RAW",
        "PERFMON",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYSLOG",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_CHROOT",
        "SYS_MODULE",
        "SYS_NICE",
        "SYS_PACCT",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "WAKE_ALARM",
    ]
)


def capability_name(value: str) -> str:
    """``cap_chown`` or ``CHOWN`` -> ``CHOWN`` (pure); anything else, ``ALL`` included, is an error."""
    name = value.strip().upper().removeprefix("CAP_")
    if name not in LINUX_CAPABILITIES:
        raise spec_error(
            "not a Linux capability (name each one; ALL is not accepted)",
            given=quote(value),
            allowed="one of " + ", ".join(sorted(LINUX_CAPABILITIES)),
        )
    return name


Capability = Annotated[str, AfterValidator(capability_name)]


class DockerConfig(SpecModel):
    """Settings for the local Docker runner."""

    type: Literal["docker"]
    labels: Annotated[dict[str, ScalarStr], BeforeValidator(_none_to_empty_dict)] = Field(default_factory=dict)
    #: Capabilities added back to the container, which otherwise runs with none (``--cap-add`` adds more).
    capabilities: Annotated[list[Capability], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    #: The container's user: ``uid:gid``, a name the image knows, or ``image`` (its own); ``--user`` wins.
    user: NoSpace | None = None


class K8sConfig(SpecModel):
    """Settings for running on Kubernetes (operator, Airflow)."""

    #: Fields where an empty string (or a placeholder naming an unset variable) means "not set".
    EMPTY_MEANS_UNSET: ClassVar[tuple[str, ...]] = (
        "namespace",
        "registryUrl",
        "registryUsername",
        "registryPassword",
        "imagePullPolicy",
    )

    type: Literal["k8s"]
    namespace: Annotated[DnsLabel | None, Unset] = None
    registryUrl: Annotated[NoSpace | None, Unset] = None
    registryUsername: Annotated[str | None, Unset] = None
    registryPassword: Annotated[SecretStr | None, Unset] = None
    imagePullSecrets: Annotated[list[DnsSubdomain], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    imagePullPolicy: Annotated[Literal["Always", "IfNotPresent", "Never"] | None, Unset] = None
    labels: Annotated[
        dict[Annotated[str, AfterValidator(_label_key)], Annotated[ScalarStr, AfterValidator(_label_value)]],
        BeforeValidator(_none_to_empty_dict),
    ] = Field(default_factory=dict)
    annotations: Annotated[
        dict[Annotated[str, AfterValidator(_label_key)], ScalarStr], BeforeValidator(_none_to_empty_dict)
    ] = Field(default_factory=dict)

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        has_user = bool(data.get("registryUsername"))
        has_password = bool(data.get("registryPassword"))
        if has_user != has_password:
            missing = "registryPassword" if has_user else "registryUsername"
            # Never echo the password itself: say only which of the pair is missing.
            return [((missing,), "registryUsername and registryPassword go together", "only one of them", "both")]
        return []


RunnerConfig = Annotated[DockerConfig | K8sConfig, Field(discriminator="type")]


def _template_tag(value: Any) -> str:
    return "by-name" if isinstance(value, str) else "inline"


TemplateRef = Annotated[
    Annotated[Annotated[str, Field(min_length=1)], Tag("by-name")] | Annotated[TaskTemplate, Tag("inline")],
    Discriminator(_template_tag),
]


class Task(SpecModel):
    """The contents of ``task.json``."""

    tolerated_keys: ClassVar[frozenset[str]] = frozenset({"$schema"})
    #: Where a ``{{ env.NAME }}`` naming an unset variable means "not set" instead of an error.
    unset_means_absent: ClassVar[frozenset[tuple[str, ...]]] = frozenset(
        ("config", name) for name in K8sConfig.EMPTY_MEANS_UNSET
    )

    name: Annotated[str, Field(min_length=1)]
    image: NoSpace
    api_version: int = 1
    taskTemplate: TemplateRef
    command: list[str] | None = None
    inputs: Annotated[list[ChannelBinding], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    outputs: Annotated[list[ChannelBinding], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    env: Annotated[list[TaskEnv], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    resources: Resources | None = None
    config: RunnerConfig | None = None

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: int) -> int:
        return check_api_version(value)

    @classmethod
    def cross_check(cls, data: Mapping[str, Any]) -> list[CrossProblem]:
        return (
            _dedupe(data.get("env"), "name", "environment variable", "env")
            + _dedupe(data.get("inputs"), "name", "input binding", "inputs")
            + _dedupe(data.get("outputs"), "name", "output binding", "outputs")
        )

    @property
    def template_identifier(self) -> str:
        """The identifier of the template, whether referenced by name or inline."""
        ref = self.taskTemplate
        return ref if isinstance(ref, str) else ref.identifier
