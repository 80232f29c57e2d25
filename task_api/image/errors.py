"""Errors of image inspection: what went wrong reading ``processing-container.json`` out of an image.

Every error is an :class:`ImageError`, itself a :class:`task_api.spec.errors.TaskApiError`. Each class says

* ``transient`` — whether trying again later may succeed (the operator retries only these), and
* ``reason`` — a CamelCase word usable as a Kubernetes condition reason or event reason.

The tree::

    ImageError
    ├── InvalidReference        the image reference does not parse                     permanent
    ├── CredentialsInvalid      a docker config / dockerconfigjson payload is malformed   permanent
    ├── ImageNotFound           repository, tag or digest unknown to the registry        permanent
    │   └── PlatformNotFound    an index without a manifest for the wanted platform       permanent
    ├── RegistryUnauthorized    credentials missing, wrong, or not allowed to pull        permanent
    ├── RegistryUnavailable     unreachable, timed out, 5xx, 429, connection cut short     transient
    │   ├── RegistryTLSError    the TLS handshake or certificate check failed             permanent
    │   └── InspectionTimedOut  the whole inspection outlived its deadline (a slow registry) transient
    ├── InspectionTooLarge      a byte budget, manifest size, layer count or indirection cap permanent
    ├── EgressDenied            a host or address the egress policy does not allow        permanent
    ├── InspectionBusy          no inspection slot free right now (InspectionGate)         transient
    ├── InsecureTransport       plain HTTP to a registry not declared insecure             permanent
    ├── DigestMismatch          content does not hash to the digest that named it          permanent
    ├── ManifestUnsupported     schema 1, unknown media types, malformed manifests         permanent
    ├── SpecFileMissing         the image has no processing-container.json (or deletes it) permanent
    ├── SpecFileInvalid         the file is there but not valid (wraps the SpecError)      permanent
    └── DockerEngineError       the local Docker engine failed or is not reachable         transient

Messages name the image and what was given and allowed; they never contain a password, a token or an
``Authorization`` header (credentials never reach the code that formats messages).

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from task_api.spec.errors import Problem, SpecError, TaskApiError

__all__ = [
    "CredentialsInvalid",
    "DigestMismatch",
    "DockerEngineError",
    "EgressDenied",
    "ImageError",
    "ImageNotFound",
    "InsecureTransport",
    "InspectionBusy",
    "InspectionTimedOut",
    "InspectionTooLarge",
    "InvalidReference",
    "ManifestUnsupported",
    "PlatformNotFound",
    "RegistryTLSError",
    "RegistryUnauthorized",
    "RegistryUnavailable",
    "SpecFileInvalid",
    "SpecFileMissing",
]


class ImageError(TaskApiError):
    """Base of the errors raised while reading an image. ``image`` names it (a reference, never a secret)."""

    transient: bool = False
    reason: str = "ImageError"

    def __init__(self, message: str, *, image: str | None = None) -> None:
        self.image = image
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class InvalidReference(ImageError):
    """The image reference does not follow ``[registry[:port]/]repository[:tag][@digest]``."""

    reason = "InvalidImageReference"


class CredentialsInvalid(ImageError):
    """A docker config file or ``dockerconfigjson`` payload is malformed (the message names the field)."""

    reason = "InvalidCredentials"


class ImageNotFound(ImageError):
    """The registry does not know the repository, tag or digest."""

    reason = "ImageNotFound"


class PlatformNotFound(ImageNotFound):
    """The reference names an index (multi-platform image) without a manifest for the wanted platform."""

    reason = "PlatformNotFound"


class RegistryUnauthorized(ImageError):
    """The registry refused the credentials, or needs some and none were given, or denies the pull."""

    reason = "RegistryUnauthorized"


class RegistryUnavailable(ImageError):
    """The registry could not be reached, timed out, answered 5xx/429, or cut a transfer short."""

    transient = True
    reason = "RegistryUnavailable"


class RegistryTLSError(RegistryUnavailable):
    """The TLS handshake failed (certificate not trusted, wrong host). Configuration, so not retried."""

    transient = False
    reason = "RegistryTLSError"


class InspectionTimedOut(RegistryUnavailable):
    """The inspection as a whole took longer than its deadline (each read may have been quick: a registry that
    drips bytes). Transient: a registry slow now may be fast later; the operator retries with back-off."""

    reason = "InspectionTimedOut"


class InspectionTooLarge(ImageError):
    """Reading the image would exceed a limit: the byte budget, the manifest size, the number of layers, index
    levels, links or redirects (:class:`~task_api.image.limits.InspectionLimits`). The same image always would."""

    reason = "InspectionLimitExceeded"


class EgressDenied(ImageError):
    """A connection the egress policy refuses: a token realm or redirect to a host that is neither the registry's
    nor on the administrator's list, or a private, loopback or link-local address that is not allowed."""

    reason = "EgressDenied"


class InspectionBusy(ImageError):
    """Every inspection slot (or the tenant's share of them) is taken: try again shortly
    (:class:`~task_api.image.gate.InspectionGate`). Says nothing about the image."""

    transient = True
    reason = "InspectionSlotsBusy"


class InsecureTransport(ImageError):
    """Plain HTTP where HTTPS is required: credentials to a host that is neither loopback nor declared insecure,
    or (under an :class:`~task_api.image.egress.EgressPolicy`) any request to a registry not declared insecure."""

    reason = "InsecureTransport"


class DigestMismatch(ImageError):
    """Content read from the registry does not match the digest (or size) that named it."""

    reason = "DigestMismatch"


class ManifestUnsupported(ImageError):
    """A manifest or layer this reader does not handle: schema 1, encrypted or foreign layers, bad JSON."""

    reason = "ManifestUnsupported"


class SpecFileMissing(ImageError):
    """The image has neither the label nor ``processing-container.json`` (or an upper layer deletes it)."""

    reason = "ProcessingContainerMissing"


class SpecFileInvalid(ImageError):
    """``processing-container.json`` is in the image but not valid; ``problems`` are the SpecError's."""

    reason = "ProcessingContainerInvalid"

    def __init__(self, message: str, *, image: str | None = None, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message, image=image)
        self.problems: list[Problem] = list(problems)

    @classmethod
    def from_spec_error(cls, error: SpecError, *, image: str) -> SpecFileInvalid:
        """Wrap a :class:`SpecError`; the message lists the problems exactly as ``validate`` prints them."""
        lines = [f"{image}: processing-container.json is not valid:"]
        lines += ["  " + p.format(error.source) for p in error.problems]
        return cls("\n".join(lines), image=image, problems=error.problems)


class DockerEngineError(ImageError):
    """The local Docker engine is not reachable or failed to answer."""

    transient = True
    reason = "DockerEngineError"
