"""A cache of inspection results keyed by manifest digest, in memory and optionally on disk.

A manifest digest names immutable content, so what ``processing-container.json`` says for it never changes:
entries never expire. The cache holds

* ``manifest digest -> (raw JSON bytes, where they came from)``; the bytes are parsed again on a hit, so a
  newer parser's verdict applies and callers never share a mutable model;
* ``(index digest, platform) -> manifest digest``, so a pinned multi-platform reference needs no request;
* bearer tokens (memory only, never on disk) so a re-inspection skips the token round trip.

Re-inspecting a tag therefore costs one ``HEAD`` manifest request; a digest-pinned reference costs none.
A hit says nothing about whether a caller may pull the image: that is checked when the image is pulled — unless
the cache is shared by callers who must not see each other's images (the operator: tenants). With
``check_access=True`` it also remembers, per repository, which credentials (by
:meth:`~task_api.image.auth.Credentials.fingerprint`, ``""`` for anonymous) the registry let read it, and
:func:`~task_api.image.inspect.inspect_image` answers a digest from the cache only to those; anyone else costs
one authenticated ``HEAD`` first, so a tenant without access gets the registry's refusal, not the templates.

The on-disk layer is one JSON file per digest under ``directory``, written atomically (temp file + rename),
so several processes may share it. Thread-safe. Does file I/O when ``directory`` is set.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from task_api.image.registry import TokenCache

__all__ = ["CacheEntry", "InspectionCache"]


@dataclass(frozen=True)
class CacheEntry:
    """What was found for one manifest digest: the file's bytes and how (``label`` or ``layer``)."""

    data: bytes
    found_in: str


class InspectionCache:
    """Results by manifest digest; ``max_entries`` bounds the memory part (least recently used goes first)."""

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, max_entries: int = 1024, check_access: bool = False
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.max_entries = max_entries
        self.check_access = check_access
        #: ``registry/repository`` → fingerprints of the credentials the registry let read it (memory only).
        self._access: OrderedDict[str, set[str]] = OrderedDict()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._platforms: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.tokens = TokenCache()
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _file(self, digest: str) -> Path | None:
        if self.directory is None:
            return None
        algorithm, _, hexpart = digest.partition(":")
        if not hexpart.isalnum():
            return None  # never build a path from anything but a digest
        return self.directory / f"{algorithm}-{hexpart}.json"

    def get(self, digest: str) -> CacheEntry | None:
        """The entry for a manifest digest, from memory or disk (file I/O on a memory miss)."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
                return entry
        path = self._file(digest)
        if path is None:
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            entry = CacheEntry(data=base64.b64decode(record["data"]), found_in=str(record["found_in"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return None  # missing or damaged: a miss, the next inspection rewrites it
        self._remember(digest, entry)
        return entry

    def put(self, digest: str, entry: CacheEntry) -> None:
        """Remember an entry (and write it to disk when a directory is set)."""
        self._remember(digest, entry)
        path = self._file(digest)
        if path is None:
            return
        record = {"digest": digest, "found_in": entry.found_in, "data": base64.b64encode(entry.data).decode()}
        _write_atomically(path, json.dumps(record))

    def _remember(self, digest: str, entry: CacheEntry) -> None:
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def may_read(self, repository: str, who: str) -> bool:
        """Whether the registry let ``who`` (a credentials fingerprint, ``""``: anonymous) read ``repository``
        (``registry/repository``) before; always True when the cache does not check access."""
        if not self.check_access:
            return True
        with self._lock:
            return who in self._access.get(repository, ())

    def remember_access(self, repository: str, who: str) -> None:
        """The registry let ``who`` read ``repository`` (memory only, bounded like the entries)."""
        if not self.check_access:
            return
        with self._lock:
            self._access.setdefault(repository, set()).add(who)
            self._access.move_to_end(repository)
            while len(self._access) > self.max_entries:
                self._access.popitem(last=False)

    def _platform_file(self, index_digest: str, platform: str) -> Path | None:
        path = self._file(index_digest)
        if path is None:
            return None
        return path.with_name(path.stem + "--" + platform.replace("/", "_") + ".digest")

    def platform_manifest(self, index_digest: str, platform: str) -> str | None:
        """The manifest digest chosen earlier for ``platform`` in the index ``index_digest``."""
        with self._lock:
            found = self._platforms.get((index_digest, platform))
        if found is not None:
            return found
        path = self._platform_file(index_digest, platform)
        try:
            text = path.read_text(encoding="ascii").strip() if path is not None else ""
        except (OSError, ValueError):
            return None
        if not text.startswith(("sha256:", "sha512:")):
            return None
        with self._lock:
            self._platforms[(index_digest, platform)] = text
        return text

    def remember_platform(self, index_digest: str, platform: str, manifest_digest: str) -> None:
        """Remember which manifest ``platform`` resolved to in an index (and write it to disk)."""
        with self._lock:
            self._platforms[(index_digest, platform)] = manifest_digest
        path = self._platform_file(index_digest, platform)
        if path is not None:
            _write_atomically(path, manifest_digest)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)  # a read-only cache directory only costs speed
