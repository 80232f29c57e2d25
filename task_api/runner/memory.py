"""Peak memory of a running container, and what it says about the scale rules (``run --monitor-memory``).

Sampling: the kernel keeps a high-water mark per cgroup — ``memory.max_usage_in_bytes`` on cgroup v1,
``memory.peak`` on cgroup v2 (Linux ≥ 5.19) — so reading it often enough is exact up to the last read before
the container exits (its cgroup disappears with it); :class:`PeakSampler` reads it every 20 ms from a
background thread. Where the cgroup file cannot be read (another host's engine, no permission) it falls back
to the engine's stats API (``memory_stats.max_usage`` on v1, else the largest ``usage`` seen), about once a
second.

Judging: :func:`advise` compares the peak with what each scale rule computed for the run and says whether the
rule under-provisions, and which factor would have covered the peak. It is pure.

The sampler does I/O (reads /proc and /sys, calls the engine); :func:`advise` and :func:`cgroup_peak_file`
are pure.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from task_api.core.memory_usage import InputSize, Observation, quantity_bytes
from task_api.core.scale import compute_resources
from task_api.runner.engine import Engine
from task_api.runner.errors import RunnerError
from task_api.runner.record import RunRecord
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule

__all__ = [
    "PeakSampler",
    "RuleCheck",
    "advise",
    "cgroup_peak_file",
    "checks_from_record",
    "computed_for",
    "human_bytes",
    "observation_from_record",
]

_CGROUP_ROOT = Path("/sys/fs/cgroup")
MIB = 1024**2


def human_bytes(value: int | None) -> str:
    """``12.5Mi`` style, for messages (pure)."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "Ki", "Mi", "Gi", "Ti"):
        if abs(size) < 1024 or unit == "Ti":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{value}B"  # pragma: no cover - unreachable


def cgroup_peak_file(proc_cgroup: str, *, root: Path = _CGROUP_ROOT) -> Path | None:
    """The high-water-mark file for the cgroup described by ``/proc/<pid>/cgroup``'s text (pure).

    cgroup v1 has a line ``N:memory:/docker/<id>`` (possibly with other controllers, ``N:cpu,memory:/…``);
    v2 a single line ``0::/…``.
    """
    v2: str | None = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if "memory" in controllers.split(","):
            return root / "memory" / path.lstrip("/") / "memory.max_usage_in_bytes"
        if controllers == "":
            v2 = path
    if v2 is not None:
        return root / v2.lstrip("/") / "memory.peak"
    return None


class PeakSampler:
    """Tracks a container's peak memory from a background thread until :meth:`stop` (I/O)."""

    INTERVAL = 0.02
    STATS_INTERVAL = 1.0

    def __init__(self, engine: Engine, container_id: str) -> None:
        self._engine = engine
        self._id = container_id
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._peak: int | None = None
        self.source: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"peak-{container_id[:12]}", daemon=True)

    def start(self) -> PeakSampler:
        self._thread.start()
        return self

    def stop(self) -> int | None:
        """Stop sampling; returns the peak in bytes (None when nothing could be read)."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            return self._peak

    @property
    def peak(self) -> int | None:
        with self._lock:
            return self._peak

    def _record(self, value: int) -> None:
        with self._lock:
            if self._peak is None or value > self._peak:
                self._peak = value

    def _cgroup_file(self) -> Path | None:
        try:
            pid = int(self._engine.inspect_container(self._id).get("State", {}).get("Pid") or 0)
            if pid <= 0:
                return None
            path = cgroup_peak_file(Path(f"/proc/{pid}/cgroup").read_text())
        except (OSError, RunnerError, ValueError):
            return None
        return path if path is not None and path.exists() else None

    def _run(self) -> None:
        path = self._cgroup_file()
        fd = -1
        if path is not None:
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY)
        if path is not None and fd >= 0:
            self.source = str(path)
            # One open file, re-read in place: 50 reads a second then cost a system call each, not an open/close.
            try:
                while True:
                    try:
                        self._record(int(os.pread(fd, 32, 0)))
                    except (OSError, ValueError):
                        break  # the cgroup went away with the container
                    if self._stop.wait(self.INTERVAL):
                        break
                # One last read: stop() may come right after the container exited, cgroup still there.
                with contextlib.suppress(OSError, ValueError):
                    self._record(int(os.pread(fd, 32, 0)))
            finally:
                os.close(fd)
            return
        self.source = "engine stats API"
        while not self._stop.is_set():
            try:
                stats: dict[str, Any] = self._engine.stats(self._id)
            except RunnerError:
                break
            memory = stats.get("memory_stats") or {}
            value = memory.get("max_usage") or memory.get("usage")
            if isinstance(value, int) and value > 0:
                self._record(value)
            if self._stop.wait(self.STATS_INTERVAL):
                break


@dataclass(frozen=True)
class RuleCheck:
    """One scale rule as it was applied to a run: what it measured and the memory it computed (bytes)."""

    rule: ScaleRule
    measurement: Measurement
    computed_bytes: int


def _suggest_factor(rule: ScaleRule, measured: int, needed: int) -> str:
    formula = rule.formula
    if formula.exponent == 1:
        factor = needed / measured
        # Round up to two significant digits: a factor is a rule of thumb, not a measurement.
        digits = max(0, 1 - math.floor(math.log10(factor))) if factor > 0 else 0
        rounded = math.ceil(factor * 10**digits) / 10**digits
        return f"scale_factor ≥ {rounded:g}"
    n = Decimal(measured) / MIB
    factor_needed = (Decimal(needed) / MIB) / (n**formula.exponent)
    return f"complexity ≥ {math.ceil(float(factor_needed) * 100) / 100:g}*n**{formula.exponent}"


def advise(
    *,
    peak_bytes: int | None,
    oom_killed: bool,
    limit_bytes: int | None,
    checks: Sequence[RuleCheck],
) -> list[tuple[bool, str]]:
    """Lines comparing the peak with each rule's computed memory; ``(True, line)`` marks a warning (pure)."""
    lines: list[tuple[bool, str]] = []
    if peak_bytes is None:
        return [(True, "peak memory could not be read (neither the cgroup nor the engine's stats answered)")]
    share = f" ({100 * peak_bytes / limit_bytes:.0f} % of the {human_bytes(limit_bytes)} limit)" if limit_bytes else ""
    lines.append((False, f"peak memory: {human_bytes(peak_bytes)}{share}"))
    if oom_killed:
        lines.append(
            (
                True,
                "the kernel killed a process for memory (OOMKilled): the run needed more than the "
                f"{human_bytes(limit_bytes)} limit; the peak shown is where it was stopped, not what it needed",
            )
        )
    for check in checks:
        measured = check.measurement.measured_bytes
        channel = check.measurement.channel
        kind = check.rule.type.value
        if measured <= 0:
            lines.append((False, f"input {channel!r}: nothing measured, the rule added no memory"))
            continue
        # With an OOM kill the peak is a lower bound of the need; the limit is the better yardstick.
        needed = max(peak_bytes, limit_bytes or 0) if oom_killed else peak_bytes
        if needed > check.computed_bytes or oom_killed:
            lines.append(
                (
                    True,
                    f"input {channel!r}: the rule under-provisions — it computed {human_bytes(check.computed_bytes)} "
                    f"for the {kind} from {human_bytes(measured)} measured, the run "
                    f"{'needed more than' if oom_killed else 'peaked at'} {human_bytes(needed)}; "
                    f"suggest {_suggest_factor(check.rule, measured, needed)} "
                    "(the 10 % headroom is added on top)",
                )
            )
        else:
            lines.append(
                (
                    False,
                    f"input {channel!r}: the rule's {human_bytes(check.computed_bytes)} {kind} covers the peak "
                    f"({100 * peak_bytes / check.computed_bytes:.0f} % used)",
                )
            )
    return lines


def computed_for(rule: ScaleRule, measurement: Measurement) -> int:
    """What one rule alone computes for a measurement, headroom and rounding included (pure)."""
    result = compute_resources(static=None, measurements=[(rule, measurement)])
    value = result.memory_request_bytes if rule.type.value == "request" else result.memory_limit_bytes
    return int(value or 0)


def checks_from_record(record: RunRecord) -> list[RuleCheck]:
    """The rule checks of a recorded run: each measured channel with its rule and computed memory (pure)."""
    checks = []
    for measurement in record.measurements:
        rule = record.scale_rules.get(measurement.channel)
        if rule is not None:
            computed = record.rule_memory.get(measurement.channel, 0)
            checks.append(RuleCheck(rule=rule, measurement=measurement, computed_bytes=computed))
    return checks


def observation_from_record(record: RunRecord, *, run: str) -> Observation:
    """A local run as an observation for ``task-api memory report`` (pure): one attempt, its peak if recorded."""
    status = record.status
    rule_types = {rule.type.value for rule in record.scale_rules.values()}
    return Observation(
        image=record.image_id or record.image,
        template=record.template,
        run=run,
        attempt=1,
        inputs=tuple(
            InputSize(channel=m.channel, mode=m.mode.value, bytes=m.measured_bytes) for m in record.measurements
        ),
        request_bytes=quantity_bytes(record.requests.get("memory")),
        limit_bytes=quantity_bytes(record.limits.get("memory")),
        peak_bytes=status.peak_memory_bytes if status is not None else None,
        oom_killed=bool(status is not None and status.oom_killed),
        rule_type=rule_types.pop() if len(rule_types) == 1 else None,
    )
