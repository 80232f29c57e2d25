"""The directory walk behind :func:`task_api.measure.measure`: streaming, iterative, optionally on two cores.

Why this shape:

* **Streaming.** :func:`os.scandir` yields one entry at a time and the walk keeps a stack of directory
  *paths* (never a list of files), so memory grows with the depth and fan-out of the tree, not with the
  number of files.
* **Relative stats.** Each directory is opened once and listed through its descriptor, so every entry is
  ``lstat``-ed relative to it (``fstatat(dirfd, name)``), the way ``du`` does it; stat-ing by full path makes
  the kernel walk every path component again, for every file.
* **Symbolic links are never followed**, neither to files nor to directories: a link's target may lie outside
  the mounted input (or loop back into it), and the data the container reads through it is counted where it
  lives, if it is inside the input at all. Sockets, FIFOs and devices are not data and are skipped too.
* **Two cores.** Python spends about as long building ``stat`` results as the kernel spends finding them,
  so a single-process walk is ~1.6x slower than ``du`` on 200 000 small files. With more than one CPU the
  walk forks helper processes that take whole sub-trees from a shared pipe (reads of 4 bytes from a pipe are
  atomic, so no sub-tree is taken twice) and report one small JSON record each. By default one process per
  CPU the process may use (its affinity, bounded by its cgroup's CPU limit), at most four: every helper is a
  copy of the interpreter, and a measuring pod has little memory. Forking is only done from a
  process without other threads (a forked child of a threaded process can inherit a lock held by another
  thread); otherwise the walk stays sequential. Results are identical either way; tests check both paths.

The one exception to "every directory counts": ``lost+found`` directly in the measured folder (or an item)
is skipped — ext4 creates it at the root of every volume, root-only, and it holds no input.

Errors: an unreadable directory or a directory that vanishes mid-walk raises :class:`ScanError` naming the
path (a measurement that silently skipped part of the input would under-size the container). A *file* that
vanishes between listing and ``lstat`` is skipped: it is no longer input.

This module does filesystem I/O; it knows nothing about scale rules (see :mod:`task_api.measure.measuring`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import stat
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "MAX_AUTO_WORKERS",
    "FileFilter",
    "ScanError",
    "Tally",
    "Unit",
    "auto_workers",
    "cpu_quota",
    "scan_level",
    "scan_tree",
    "scan_units",
    "usable_cpus",
]

#: ``mkfs.ext4`` makes this folder at the root of every file system (so at the root of many PVCs), readable
#: by root only. It is file-system bookkeeping, not input; at the top of a measured folder it is skipped.
LOST_FOUND = "lost+found"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_INDEX = struct.Struct("<I")
#: Sub-trees handed to helpers per pipe message, so a pipe (64 KiB) never fills before the helpers start.
_MAX_MESSAGES = 8192


class ScanError(OSError):
    """A directory inside the walked tree could not be read (``path`` names it, ``strerror`` says why)."""


@dataclass(slots=True)
class Tally:
    """What a walk found: matching regular files, their total size, the largest one (relative path)."""

    bytes: int = 0
    files: int = 0
    largest_bytes: int = 0
    largest_path: str | None = None
    #: Entries the rule could never count: symbolic links, sockets, FIFOs, devices.
    skipped: int = 0

    def merge(self, other: Tally) -> None:
        """Add ``other`` into this tally (pure, in place)."""
        self.bytes += other.bytes
        self.files += other.files
        self.skipped += other.skipped
        if other.largest_path is not None and (
            self.largest_path is None
            or other.largest_bytes > self.largest_bytes
            # Ties go to the smaller path so sequential and parallel walks report the same file.
            or (other.largest_bytes == self.largest_bytes and other.largest_path < self.largest_path)
        ):
            self.largest_bytes = other.largest_bytes
            self.largest_path = other.largest_path

    def to_json(self) -> list[object]:
        return [self.bytes, self.files, self.largest_bytes, self.largest_path, self.skipped]

    @classmethod
    def from_json(cls, data: list[object]) -> Tally:
        b, n, lb, lp, sk = data
        assert isinstance(b, int) and isinstance(n, int) and isinstance(lb, int) and isinstance(sk, int)
        assert lp is None or isinstance(lp, str)
        return cls(b, n, lb, lp, sk)


@dataclass(frozen=True, slots=True)
class FileFilter:
    """Which regular files count: a glob on the file name, a regex on the relative path, hidden files or not.

    ``glob`` is an :mod:`fnmatch` pattern (``*``, ``?``, ``[...]``) matched against the file *name*, at any
    depth — what Kaapana's ``Path.rglob(target_glob)`` does. ``regex`` must match the *whole* path relative to
    the measured directory (``re.fullmatch``, as in Kaapana). ``include_hidden=False`` skips every file or
    directory whose name starts with ``.``.
    """

    glob: str | None = None
    regex: str | None = None
    include_hidden: bool = True
    _name_test: Callable[[str], bool] | None = field(init=False, default=None, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The defaults match everything; recognising them lets the walk skip per-file matching.
        regex = None if self.regex in (None, "", ".*") else re.compile(self.regex or "")
        object.__setattr__(self, "_name_test", _name_test(self.glob))
        object.__setattr__(self, "_regex", regex)

    @property
    def matches_everything(self) -> bool:
        """True when every regular file counts (pure)."""
        return self._name_test is None and self._regex is None

    def matches(self, rel: str, name: str) -> bool:
        """Whether the file ``name`` at relative path ``rel`` (``/``-separated) counts (pure)."""
        if self._name_test is not None and not self._name_test(name):
            return False
        return self._regex is None or self._regex.fullmatch(rel) is not None


_WILDCARDS = frozenset("*?[")


def _name_test(pattern: str | None) -> Callable[[str], bool] | None:
    """A test on file names for a glob; None when it accepts every name (pure).

    The common shapes (``*.dcm``, ``img*``, ``exact.nrrd``) become string comparisons: a regular expression
    per file costs about a third of the walk on 200 000 files.
    """
    if pattern in (None, "", "*"):
        return None
    assert pattern is not None
    head, tail = pattern[:1], pattern[1:]
    if not _WILDCARDS & set(pattern):
        return pattern.__eq__
    if head == "*" and not _WILDCARDS & set(tail):
        return lambda name: name.endswith(tail)
    if pattern.endswith("*") and not _WILDCARDS & set(pattern[:-1]):
        start = pattern[:-1]
        return lambda name: name.startswith(start)
    compiled = re.compile(fnmatch.translate(pattern))
    return lambda name: compiled.match(name) is not None


def scan_tree(top: str, flt: FileFilter, *, prefix: str = "") -> Tally:
    """Walk ``top`` recursively and tally the regular files ``flt`` accepts (filesystem I/O).

    ``prefix`` is prepended to relative paths, so a sub-tree reports paths relative to the measured
    directory.
    """
    tally = Tally()
    _walk(top, prefix, flt, tally, subdirs=None)
    return tally


def scan_level(top: str, flt: FileFilter, *, prefix: str = "") -> tuple[Tally, list[Unit]]:
    """Tally only ``top``'s own files and list its sub-directories as units to walk later (filesystem I/O)."""
    tally = Tally()
    subdirs: list[Unit] = []
    _walk(top, prefix, flt, tally, subdirs=subdirs)
    return tally, subdirs


def _walk(  # noqa: PLR0915 - the per-file loop is inlined on purpose: a call per file costs ~10 %
    top: str, prefix: str, flt: FileFilter, tally: Tally, *, subdirs: list[Unit] | None
) -> None:
    """The walk itself; adds to ``tally``. With ``subdirs`` given, the walk stays in ``top`` and lists its
    sub-directories there instead of descending."""
    # Locals instead of attribute look-ups: this loop runs once per file.
    everything = flt.matches_everything
    name_test = flt._name_test
    regex = flt._regex
    hidden = flt.include_hidden
    is_reg = stat.S_ISREG
    stack: list[tuple[str, str]] = [(top, prefix)]
    total = files = skipped = 0
    largest_path = tally.largest_path
    largest = tally.largest_bytes
    while stack:
        path, rel = stack.pop()
        try:
            fd = os.open(path, _DIR_FLAGS)
        except OSError as exc:
            raise ScanError(exc.errno, exc.strerror, path) from None
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = entry.name
                    if not hidden and name[0] == ".":
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if not rel and name == LOST_FOUND:
                            continue  # fsck's folder at a volume's root: not data, and only root may read it
                        if subdirs is None:
                            stack.append((f"{path}/{name}", f"{rel}{name}/"))
                        else:
                            subdirs.append(Unit(key="", path=f"{path}/{name}", prefix=f"{rel}{name}/"))
                        continue
                    if not everything:
                        if name_test is not None and not name_test(name):
                            continue
                        if regex is not None and regex.fullmatch(rel + name) is None:
                            continue
                    # One lstat relative to the open directory (scandir was given its descriptor) answers both
                    # "regular file?" and "how big?"; links, FIFOs, sockets and devices are skipped by mode.
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed since it was listed: no longer input
                    if not is_reg(st.st_mode):
                        skipped += 1
                        continue
                    size = st.st_size
                    total += size
                    files += 1
                    if size > largest or largest_path is None:
                        largest = size
                        largest_path = rel + name
                    elif size == largest and rel + name < largest_path:
                        largest_path = rel + name
        except OSError as exc:
            raise ScanError(exc.errno, exc.strerror, path) from None
        finally:
            os.close(fd)
    tally.bytes += total
    tally.files += files
    tally.skipped += skipped
    tally.largest_bytes = largest
    tally.largest_path = largest_path


@dataclass(frozen=True, slots=True)
class Unit:
    """One sub-tree to walk: its path, the prefix of its relative paths, the key its tally is filed under."""

    key: str
    path: str
    prefix: str


#: The most processes an automatic choice (``workers=0``) uses. Each helper is a copy of the Python process
#: whose pages get copied as it runs; a measuring pod has a small memory limit, and one walk rarely gains
#: beyond a few processes (the kernel's directory and inode caches become the bottleneck).
MAX_AUTO_WORKERS = 4


def cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """The CPU limit of this process's cgroup in CPUs, None when unlimited (reads /sys)."""
    candidates = (
        (f"{root}/cpu.max", None),  # cgroup v2: "max 100000" or "150000 100000"
        (f"{root}/cpu/cpu.cfs_quota_us", f"{root}/cpu/cpu.cfs_period_us"),  # cgroup v1
        (f"{root}/cpu,cpuacct/cpu.cfs_quota_us", f"{root}/cpu,cpuacct/cpu.cfs_period_us"),
    )
    for quota_file, period_file in candidates:
        try:
            with open(quota_file, encoding="ascii") as handle:
                fields = handle.read().split()
            if period_file is not None:
                with open(period_file, encoding="ascii") as handle:
                    fields.append(handle.read().strip())
        except (OSError, ValueError):
            continue
        if len(fields) < 2 or fields[0] in ("max", "-1"):
            return None
        try:
            return max(int(fields[0]) / int(fields[1]), 0.01)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, bounded by its cgroup's CPU limit (reads process state)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        count = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        count = min(count, max(1, int(quota + 0.5)))
    return max(1, count)


def auto_workers() -> int:
    """How many processes walk when the caller does not say: one per usable CPU, at most four."""
    return min(usable_cpus(), MAX_AUTO_WORKERS)


def _can_fork() -> bool:
    # A child forked from a threaded process may inherit a lock held by another thread: stay sequential then.
    return hasattr(os, "fork") and threading.active_count() == 1


def scan_units(units: Sequence[Unit], flt: FileFilter, *, workers: int = 0) -> dict[str, Tally]:
    """Walk every unit and return one tally per key (units sharing a key are merged) (filesystem I/O).

    ``workers`` is the number of processes walking at once (0: :func:`auto_workers`). The calling process always
    takes part; helpers are forked only when it is safe (see the module docstring) and there is enough work.
    """
    result: dict[str, Tally] = {u.key: Tally() for u in units}
    helpers = (workers or auto_workers()) - 1
    helpers = min(helpers, len(units) - 1)
    if helpers <= 0 or not _can_fork():
        for unit in units:
            result[unit.key].merge(scan_tree(unit.path, flt, prefix=unit.prefix))
        return result
    return _scan_parallel(units, flt, helpers, result)


def _take(read_fd: int) -> int | None:
    data = os.read(read_fd, _INDEX.size)
    if not data:
        return None
    return int(_INDEX.unpack(data)[0])


def _scan_parallel(units: Sequence[Unit], flt: FileFilter, helpers: int, result: dict[str, Tally]) -> dict[str, Tally]:
    per_message = -(-len(units) // _MAX_MESSAGES)  # ceiling division
    work_r, work_w = os.pipe()
    try:
        os.write(work_w, b"".join(_INDEX.pack(i) for i in range(0, len(units), per_message)))
    finally:
        os.close(work_w)

    def run(collect: Callable[[str, Tally], None]) -> None:
        while (start := _take(work_r)) is not None:
            for unit in units[start : start + per_message]:
                collect(unit.key, scan_tree(unit.path, flt, prefix=unit.prefix))

    children: list[tuple[int, int]] = []
    try:
        for _ in range(helpers):
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
                _child(run, out_r, out_w)
            os.close(out_w)
            children.append((pid, out_r))
        # The parent walks too, then collects.
        failure: ScanError | None = None
        try:
            run(lambda key, tally: result[key].merge(tally))
        except ScanError as exc:
            failure = exc
        for pid, out_r in children:
            payload = _read_all(out_r)
            _, status = os.waitpid(pid, 0)
            try:
                records = json.loads(payload) if payload else None
            except ValueError:
                records = None
            if not isinstance(records, dict):
                failure = failure or ScanError(0, f"a measuring helper failed (wait status {status})", "")
                continue
            if "error" in records:
                errno_, strerror, path = records["error"]
                failure = failure or ScanError(errno_, strerror, path)
                continue
            for key, data in records["tallies"]:
                result[key].merge(Tally.from_json(data))
        children = []
        if failure is not None:
            raise failure
        return result
    finally:
        os.close(work_r)
        for pid, out_r in children:  # only left when something above raised
            os.close(out_r)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _child(  # pragma: no cover - runs in a forked child
    run: Callable[[Callable[[str, Tally], None]], None], out_r: int, out_w: int
) -> None:
    """Body of a forked helper: walk, write one JSON document, leave without running any parent cleanup."""
    code = 0
    try:
        os.close(out_r)
        tallies: dict[str, Tally] = {}

        def collect(key: str, tally: Tally) -> None:
            tallies.setdefault(key, Tally()).merge(tally)

        try:
            run(collect)
            doc: dict[str, object] = {"tallies": [[k, t.to_json()] for k, t in tallies.items()]}
        except ScanError as exc:
            doc = {"error": [exc.errno or 0, exc.strerror or "", exc.filename or ""]}
        data = json.dumps(doc).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(out_w, view) :]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)
