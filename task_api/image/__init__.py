"""Reading ``processing-container.json`` out of container images (an adapter: all of its I/O is here).

Public API::

    inspect_image(reference, *, credentials=None, platform="linux/amd64", insecure_registries=(),
                  cache=None, timeout=30.0, limits=None, egress=None) -> Inspection   # a registry, no pull
    inspect_image_async(...)                                        # the same, in a worker thread
    inspect_local_image(reference, *, docker_host=None) -> Inspection   # the local Docker engine
    Credentials.basic(user, password) / .from_dockerconfigjson(payload, host) / .from_docker_config(host)
    InspectionCache(directory=None)                                 # by manifest digest
    LABEL = "io.task-api.processing-container"                      # the fast-path image label
    InspectionLimits(deadline_seconds=60, max_bytes=512 MiB, …)     # what one inspection may cost
    EgressPolicy(allowed_hosts=…, allowed_private=…, insecure_registries=…)   # where it may connect
    InspectionGate(slots=4, per_tenant=2)                           # how many run at once (asyncio)
    InspectionSettings.from_env(env, workers=…)                     # all three from TASK_API_* keys

Errors derive from :class:`ImageError` (see :mod:`task_api.image.errors`); each has ``transient`` and
``reason``. How it works and how to set the label: ``docs/image-inspection.md``.
"""

from task_api.image.auth import Credentials
from task_api.image.cache import InspectionCache
from task_api.image.egress import EgressPolicy
from task_api.image.errors import (
    CredentialsInvalid,
    DigestMismatch,
    DockerEngineError,
    EgressDenied,
    ImageError,
    ImageNotFound,
    InsecureTransport,
    InspectionBusy,
    InspectionTimedOut,
    InspectionTooLarge,
    InvalidReference,
    ManifestUnsupported,
    PlatformNotFound,
    RegistryTLSError,
    RegistryUnauthorized,
    RegistryUnavailable,
    SpecFileInvalid,
    SpecFileMissing,
)
from task_api.image.gate import InspectionGate
from task_api.image.inspect import (
    MAX_SPEC_BYTES,
    SPEC_PATH,
    Inspection,
    InspectionSource,
    inspect_image,
    inspect_image_async,
)
from task_api.image.limits import InspectionLimits
from task_api.image.local import inspect_local_image
from task_api.image.manifest import LABEL
from task_api.image.reference import ImageReference, parse_reference, registry_mismatch, registry_url_host
from task_api.image.settings import InspectionSettings

__all__ = [
    "LABEL",
    "MAX_SPEC_BYTES",
    "SPEC_PATH",
    "Credentials",
    "CredentialsInvalid",
    "DigestMismatch",
    "DockerEngineError",
    "EgressDenied",
    "EgressPolicy",
    "ImageError",
    "ImageNotFound",
    "ImageReference",
    "InsecureTransport",
    "Inspection",
    "InspectionBusy",
    "InspectionCache",
    "InspectionGate",
    "InspectionLimits",
    "InspectionSettings",
    "InspectionSource",
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
    "inspect_image",
    "inspect_image_async",
    "inspect_local_image",
    "parse_reference",
    "registry_mismatch",
    "registry_url_host",
]
