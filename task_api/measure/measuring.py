"""Measure an input channel the way a scale rule asks (semantics: ``docs/scale-rules.md``).

* ``target_dir`` is relative to the channel's root ("" is the root). For ``max_item_sum`` it is relative to
  each *item* — each direct sub-directory of the channel's root — as in Kaapana.
* ``target_glob`` is matched against file names at any depth, ``target_regex`` against the whole path
  relative to the measured directory (the target directory, or the item's target directory).
* ``sum`` adds the sizes of the matching files, ``max_file_size`` takes the largest one, ``max_item_sum``
  adds per item and takes the largest item.
* Symbolic links inside the input are never followed (see :mod:`task_api.measure._scan`); the channel's own
  root may be a link, because the user named it.
* Hidden files and directories (names starting with ``.``) count: they are data the container can read, and
  Kaapana counts them. ``lost+found`` at the top of the measured folder is skipped (ext4's root-only
  bookkeeping folder at the root of a volume, never input).
* A missing channel root or ``target_dir`` measures 0 bytes and says so (``target_missing``), as an empty
  input would; an item without the target directory counts 0. Something that exists but is not a directory
  (a file, or a symbolic link below the root) is an error (:class:`~task_api.measure.errors.InputMissing`).

Sizes are apparent sizes (``st_size``), the number the container reads, not the blocks allocated.

This module does filesystem I/O (it walks directories); computing memory from the result is
:func:`task_api.core.scale.compute_resources`' job.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from task_api.measure._scan import FileFilter, ScanError, Tally, Unit, auto_workers, scan_level, scan_units
from task_api.measure.errors import InputMissing, InputUnreadable
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule, ScaleRuleMode

__all__ = ["Found", "measure", "measure_rule"]

#: Units of work per process wanted before the walk starts; more units balance uneven trees better.
_UNITS_PER_WORKER = 8
#: How many directory levels may be listed up front to find enough units (keeps the up-front cost bounded).
_MAX_EXPAND_LEVELS = 3


@dataclass(frozen=True, slots=True)
class Found:
    """The raw result of measuring one channel (the caller turns it into a ``Measurement``)."""

    bytes: int
    files: int
    largest_file: str | None
    largest_file_bytes: int
    item: str | None
    items: int
    target_missing: bool
    skipped: int


_EMPTY_MISSING = Found(
    bytes=0,
    files=0,
    largest_file=None,
    largest_file_bytes=0,
    item=None,
    items=0,
    target_missing=True,
    skipped=0,
)


def _rule_filter(rule: ScaleRule) -> FileFilter:
    return FileFilter(glob=rule.target_glob, regex=rule.target_regex, include_hidden=True)


def _is_dir(path: str) -> bool:
    """True for a directory that is not a symbolic link (reads the filesystem)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _target(base: str, target_dir: str) -> str:
    return f"{base}/{target_dir}" if target_dir else base


def _expand(units: list[Unit], flt: FileFilter, tallies: dict[str, Tally], *, want: int) -> list[Unit]:
    """List directory levels until there are ``want`` units (or the tree runs out), tallying the files met
    on the way into ``tallies`` (filesystem I/O)."""
    for _ in range(_MAX_EXPAND_LEVELS):
        if len(units) >= want or not units:
            break
        deeper: list[Unit] = []
        for unit in units:
            level, subdirs = scan_level(unit.path, flt, prefix=unit.prefix)
            tallies.setdefault(unit.key, Tally()).merge(level)
            deeper.extend(Unit(key=unit.key, path=s.path, prefix=s.prefix) for s in subdirs)
        units = deeper
    return units


def measure_rule(root: Path, rule: ScaleRule, *, channel: str, workers: int = 0) -> Found:
    """Measure the channel mounted at ``root`` as ``rule`` says (filesystem I/O).

    ``workers``: processes walking at once (0 = one per usable CPU, at most 4; 1 = never fork).
    Raises :class:`InputMissing` or :class:`InputUnreadable`.
    """
    # The root may be a symbolic link the user chose; resolve it once, then never follow links below it.
    base = os.path.realpath(root)
    if not os.path.exists(base):
        return _EMPTY_MISSING
    if not os.path.isdir(base):
        raise InputMissing("is not a directory", channel=channel, path=str(root))
    flt = _rule_filter(rule)
    want = (workers or auto_workers()) * _UNITS_PER_WORKER
    try:
        if rule.mode is ScaleRuleMode.MAX_ITEM_SUM:
            return _measure_items(base, rule, flt, channel=channel, workers=workers, want=want)
        target = _target(base, rule.target_dir)
        if not _is_dir(target):
            return _missing_target(target, base, channel=channel)
        tallies: dict[str, Tally] = {}
        units = _expand([Unit(key="", path=target, prefix="")], flt, tallies, want=want)
        total = tallies.setdefault("", Tally())
        for tally in scan_units(units, flt, workers=workers).values():
            total.merge(tally)
    except ScanError as exc:
        raise InputUnreadable(f"cannot read {exc.filename}: {exc.strerror}", channel=channel, path=str(root)) from None
    return Found(
        bytes=total.largest_bytes if rule.mode is ScaleRuleMode.MAX_FILE_SIZE else total.bytes,
        files=total.files,
        largest_file="/".join(p for p in (rule.target_dir, total.largest_path) if p) or None,
        largest_file_bytes=total.largest_bytes,
        item=None,
        items=0,
        target_missing=False,
        skipped=total.skipped,
    )


def _missing_target(target: str, base: str, *, channel: str) -> Found:
    if os.path.lexists(target) and not _is_dir(target):
        # A file or a link where a directory was promised is a mistake in the rule or the data, not "empty".
        raise InputMissing(
            "target_dir is not a directory (symbolic links inside an input are not followed)",
            channel=channel,
            path=target,
        )
    return _EMPTY_MISSING


def _measure_items(base: str, rule: ScaleRule, flt: FileFilter, *, channel: str, workers: int, want: int) -> Found:
    # Items are the root's direct sub-directories; files lying directly in the root belong to no item.
    # The never-matching regex spares an lstat per file of the root: only the directory list is wanted.
    _, item_dirs = scan_level(base, FileFilter(regex="(?!)", include_hidden=True))
    units: list[Unit] = []
    missing = 0
    for item in item_dirs:
        name = item.prefix.rstrip("/")
        target = _target(item.path, rule.target_dir)
        if rule.target_dir and not _is_dir(target):
            if os.path.lexists(target):
                raise InputMissing(
                    "target_dir is not a directory (symbolic links inside an input are not followed)",
                    channel=channel,
                    path=target,
                )
            missing += 1
            continue
        units.append(Unit(key=name, path=target, prefix=""))
    tallies: dict[str, Tally] = {u.key: Tally() for u in units}
    units = _expand(units, flt, tallies, want=want)
    for key, tally in scan_units(units, flt, workers=workers).items():
        tallies[key].merge(tally)
    best: str | None = None
    files = skipped = 0
    for key, tally in tallies.items():
        files += tally.files
        skipped += tally.skipped
        # Ties go to the smaller name, so the answer does not depend on directory order.
        if best is None or tally.bytes > tallies[best].bytes or (tally.bytes == tallies[best].bytes and key < best):
            best = key
    chosen = tallies[best] if best is not None else Tally()
    return Found(
        bytes=chosen.bytes,
        files=files,
        largest_file=(
            "/".join(p for p in (best, rule.target_dir, chosen.largest_path) if p)
            if best is not None and chosen.largest_path
            else None
        ),
        largest_file_bytes=chosen.largest_bytes,
        item=best,
        items=len(item_dirs),
        target_missing=bool(item_dirs) and missing == len(item_dirs),
        skipped=skipped,
    )


def measure(root: Path, rule: ScaleRule, *, channel: str, workers: int = 0) -> Measurement:
    """Measure the input channel ``channel`` mounted at ``root`` as ``rule`` says (filesystem I/O).

    A missing channel root or ``target_dir`` measures 0 bytes with ``target_missing`` set; a root that is
    not a directory raises :class:`InputMissing`, an unreadable directory :class:`InputUnreadable`.
    ``workers``: processes walking at once (0 = one per usable CPU, at most 4; 1 = never fork).
    """
    found = measure_rule(root, rule, channel=channel, workers=workers)
    largest = found.item if rule.mode is ScaleRuleMode.MAX_ITEM_SUM else found.largest_file
    return Measurement(
        channel=channel,
        mode=rule.mode,
        measured_bytes=found.bytes,
        files_counted=found.files,
        items_counted=found.items if rule.mode is ScaleRuleMode.MAX_ITEM_SUM else None,
        largest=largest if rule.mode is not ScaleRuleMode.SUM else None,
        target_missing=found.target_missing,
    )
