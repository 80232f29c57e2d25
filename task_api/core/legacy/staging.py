"""Staging: the operations that build the legacy layout in a run's scratch directory. Pure."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from task_api.core.legacy.layout import LegacyLayout, LegacyMode, StageKind, conf_document


@dataclass(frozen=True)
class MakeDir:
    """Create ``path`` (and parents), writable by whatever user the image runs as."""

    path: str


@dataclass(frozen=True)
class Copy:
    """Copy the tree at ``source`` to ``target`` (a writable private copy)."""

    source: str
    target: str


@dataclass(frozen=True)
class Link:
    """Create the symbolic link ``path`` -> ``target`` (``target`` is a path as the *image* sees it)."""

    path: str
    target: str


@dataclass(frozen=True)
class WriteFile:
    """Write ``text`` to ``path``."""

    path: str
    text: str


StageOperation = MakeDir | Copy | Link | WriteFile


def stage_operations(
    layout: LegacyLayout,
    env: Mapping[str, str],
    elements: Sequence[str],
    *,
    workflow_root: str,
    input_root: str,
    output_root: str,
) -> list[StageOperation]:
    """The operations that build the legacy layout (pure).

    ``workflow_root``, ``input_root`` and ``output_root`` are where the staging step itself sees the scratch
    directory and the two channels (host directories for the Docker runner, the same mount paths as the image in
    the pod's init container). Link targets are always the image's paths (``layout.input_path`` …), because the
    image resolves them. ``elements`` are the input's top-level directory names (per-element mode).
    """
    in_dir, out_dir = layout.operator_in_dir, layout.operator_out_dir
    batch = posixpath.join(workflow_root, layout.batch_name)
    ops: list[StageOperation] = [MakeDir(workflow_root), MakeDir(batch)]

    def place_input(source_rel: str, target: str) -> None:
        if layout.stage is StageKind.COPY:
            ops.append(Copy(posixpath.join(input_root, source_rel) if source_rel else input_root, target))
        else:
            ops.append(Link(target, posixpath.join(layout.input_path, source_rel) if source_rel else layout.input_path))

    if layout.mode is LegacyMode.PER_ELEMENT:
        for element in elements:
            element_dir = posixpath.join(batch, element)
            ops.append(MakeDir(element_dir))
            place_input(element, posixpath.join(element_dir, in_dir))
            ops.append(MakeDir(posixpath.join(output_root, element)))
            ops.append(Link(posixpath.join(element_dir, out_dir), posixpath.join(layout.output_path, element)))
    else:
        place_input("", posixpath.join(workflow_root, in_dir))
        ops.append(Link(posixpath.join(workflow_root, out_dir), layout.output_path))
    conf = conf_document(layout, env)
    ops.append(MakeDir(posixpath.join(workflow_root, "conf")))
    ops.append(WriteFile(posixpath.join(workflow_root, "conf", "conf.json"), json.dumps(conf, indent=2) + "\n"))
    return ops
