"""Which node directories a TaskRun may mount (``hostPath``): the policy, as pure functions.

**The decision: host paths are read-only inputs; outputs go to PersistentVolumeClaims.**

The kubelet mounts a ``hostPath`` by following symbolic links on the node. Checking the *text* of a path under an
allowed root (``posixpath.normpath``) therefore proves nothing once anything under the root can be written by a
tenant: run 1 writes the link ``<root>/out/x -> /`` into a writable host-path output; run 2 asks for
``<root>/out/x/etc`` — text under the root, on the node the node's ``/etc``, created ``DirectoryOrCreate`` and
mounted writable. Resolving links on the node before admission would need an agent on every node and would still
race (the link can change between the check and the kubelet's mount). Taking away every writable host path removes
the only way a tenant writes under a root: what is there, the administrator put there, and an allowed root means
exactly "tenants may read this directory of every node" (docs/deploy.md says so, and recommends admin-made
PersistentVolumes instead). Kaapana's own runs keep host-path *inputs*; their outputs move to a claim.

The text checks stay, because paths reach the kubelet as text and people read them: absolute, already normal (no
``.``/``..`` components, no ``//``, no trailing ``/`` — refused, not silently normalised), printable (no control,
format — bidi overrides, zero-width — private-use or surrogate characters, no non-ASCII spaces), NFC (two spellings
of one name are two directories to the kernel), within ``PATH_MAX``/``NAME_MAX``, and under a root component by
component (``/data2`` is not under ``/data``).

Everything here is pure. The reconciler calls :func:`check_host_path` for each ``hostPath`` binding and turns a
:class:`HostPathRefused` into an ``InvalidSpec`` condition naming the field (``spec.inputs[0].hostPath.path``);
the ValidatingAdmissionPolicy in ``manifests/`` enforces the same at pod creation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from task_api.spec.errors import TaskApiError

__all__ = ["PATH_MAX", "HostPathRefused", "check_host_path", "check_root"]

#: Bytes of a whole path, and of one component, Linux accepts (``PATH_MAX`` includes the terminating NUL).
PATH_MAX = 4095
NAME_MAX = 255
_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


class HostPathRefused(TaskApiError):
    """A host path the policy does not allow: ``message`` says why, ``given`` and ``allowed`` what."""

    def __init__(self, message: str, *, given: str, allowed: str) -> None:
        super().__init__(message)
        self.message = message
        self.given = given
        self.allowed = allowed

    def __str__(self) -> str:
        return f"{self.message} (given {self.given}; allowed {self.allowed})"


def _show(path: str) -> str:
    """The path as messages show it: quoted, anything unprintable escaped (pure)."""
    return repr(path.encode("unicode_escape").decode("ascii") if not path.isprintable() else path)


def _text_problem(path: str) -> str | None:
    """Why ``path`` is not an acceptable absolute, normal, printable path, or None (pure)."""
    if not path:
        return "the path is empty"
    for char in path:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            return f"it contains the invisible or control character U+{ord(char):04X} ({unicodedata.name(char, '?')})"
        if category == "Zs" and char != " ":
            return f"it contains the non-ASCII space U+{ord(char):04X}"
    if unicodedata.normalize("NFC", path) != path:
        return "it is not in Unicode normal form NFC (the same name can be spelled with other code points)"
    if not path.startswith("/"):
        return "it is not absolute"
    if len(path.encode("utf-8")) > PATH_MAX:
        return f"it is longer than {PATH_MAX} bytes"
    if path != "/" and path.endswith("/"):
        return "it ends with '/'"
    if "//" in path:
        return "it contains '//'"
    for part in path.split("/")[1:]:
        if part in (".", ".."):
            return f"it contains a {part!r} component (write the path it means)"
        if len(part.encode("utf-8")) > NAME_MAX:
            return f"a component is longer than {NAME_MAX} bytes"
    return None


def check_root(root: str) -> str:
    """An administrator's root, checked like a path; ``/`` is refused (pure). Raises :class:`HostPathRefused`."""
    problem = _text_problem(root)
    if problem is None and root == "/":
        problem = "'/' would allow the whole node"
    if problem is not None:
        raise HostPathRefused(
            f"allowed host path root: {problem}", given=_show(root), allowed="an absolute, normal path"
        )
    return root


def check_host_path(path: str, *, roots: Sequence[str], read_only: bool) -> str:
    """The path, if a TaskRun may mount it; else :class:`HostPathRefused` (pure).

    ``roots`` are the administrator's (``TASK_API_ALLOWED_HOST_PATH_ROOTS``, each already :func:`check_root`-ed);
    ``read_only`` is False for outputs, which are never allowed on host paths.
    """
    shown = _show(path)
    if not read_only:
        raise HostPathRefused(
            "outputs cannot go to host paths: a writable node directory lets one run plant links that escape the "
            "allowed roots for the next",
            given=shown,
            allowed="a persistentVolumeClaim for outputs (host paths are read-only inputs)",
        )
    problem = _text_problem(path)
    if problem is not None:
        raise HostPathRefused(
            f"host path refused: {problem}", given=shown, allowed="an absolute, normal, printable path (NFC)"
        )
    if not any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots):
        allowed = ", ".join(roots) if roots else "none (TASK_API_ALLOWED_HOST_PATH_ROOTS is empty)"
        raise HostPathRefused("host path is not under an allowed root", given=shown, allowed=f"a path under {allowed}")
    return path
