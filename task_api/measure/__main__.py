"""``python -m task_api.measure REQUEST`` — the measuring pod's program.

The Kubernetes operator starts a short-lived pod from its own image, mounts each input volume read-only and
runs this module. The request is a JSON list, given as the first argument or, when there is none, in the
environment variable ``TASK_API_MEASURE_REQUEST``::

    [{"channel": "dicom", "path": "/measure/0", "rule": {"scale_factor": 10, "type": "limit", "mode": "sum"}}]

On success it prints a JSON list of :class:`task_api.spec.Measurement` (compact, fields at their defaults left
out, in request order) to stdout, writes the same to ``/dev/termination-log`` when that file exists (the
operator reads the pod's termination message, which Kubernetes caps at 4 KiB), and exits 0. When the full
result would not fit, the termination message drops the ``largest`` paths first; if it still does not fit the
run fails rather than report something truncated.

On failure it prints one line ``task-api measure: <what went wrong>`` to stderr and to the termination log
and exits 2 for a bad request, 1 when measuring failed. No traceback.

Does filesystem I/O (reads the inputs, writes the termination log).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from task_api.measure.errors import BadMeasureRequest, MeasureError
from task_api.measure.measuring import measure
from task_api.spec.errors import format_path
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule

ENV_REQUEST = "TASK_API_MEASURE_REQUEST"
#: Where Kubernetes reads a container's termination message; tests point it elsewhere with this variable.
ENV_TERMINATION_LOG = "TASK_API_TERMINATION_LOG"
TERMINATION_LOG = "/dev/termination-log"
#: Kubernetes keeps at most 4096 bytes of a termination message.
TERMINATION_LIMIT = 4096

EXIT_FAILED = 1
EXIT_BAD_REQUEST = 2

_ITEM_SHAPE = '[{"channel": NAME, "path": ABSOLUTE_DIR, "rule": SCALE_RULE}, ...]'


def parse_request(text: str) -> list[tuple[str, Path, ScaleRule]]:
    """Parse and validate a request document (pure). Raises :class:`BadMeasureRequest` naming the field."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise BadMeasureRequest(f"the request is not JSON ({exc}); expected {_ITEM_SHAPE}") from None
    if not isinstance(data, list):
        raise BadMeasureRequest(f"the request must be a JSON list, given {type(data).__name__}; expected {_ITEM_SHAPE}")
    items: list[tuple[str, Path, ScaleRule]] = []
    for index, item in enumerate(data):
        where = f"request[{index}]"
        if not isinstance(item, dict):
            raise BadMeasureRequest(f"{where}: must be an object, given {type(item).__name__}")
        unknown = sorted(set(item) - {"channel", "path", "rule"})
        if unknown:
            raise BadMeasureRequest(f"{where}: unknown field {unknown[0]!r}; allowed channel, path, rule")
        channel, path, rule = item.get("channel"), item.get("path"), item.get("rule")
        if not isinstance(channel, str) or not channel:
            raise BadMeasureRequest(f"{where}.channel: must be a non-empty string, given {channel!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise BadMeasureRequest(f"{where}.path: must be an absolute path, given {path!r}")
        try:
            parsed = ScaleRule.model_validate(rule)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = format_path([where, "rule", *first["loc"]])
            raise BadMeasureRequest(f"{loc}: {first['msg']} (given {first.get('input')!r})") from None
        items.append((channel, Path(path), parsed))
    return items


def render(measurements: Sequence[Measurement], *, drop_largest: bool = False) -> str:
    """The compact JSON form of the result (pure)."""
    docs = [
        m.model_dump(mode="json", exclude_defaults=True, exclude={"largest"} if drop_largest else None)
        for m in measurements
    ]
    return json.dumps(docs, separators=(",", ":"))


def termination_message(measurements: Sequence[Measurement]) -> str | None:
    """The result as it fits into a termination message, or None when it cannot fit (pure)."""
    for drop in (False, True):
        text = render(measurements, drop_largest=drop)
        if len(text.encode()) <= TERMINATION_LIMIT:
            return text
    return None


def _write_termination_log(text: str) -> None:
    path = os.environ.get(ENV_TERMINATION_LOG, TERMINATION_LOG)
    if not os.path.exists(path):
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        sys.stderr.write(f"task-api measure: cannot write {path}: {exc.strerror}\n")


def _fail(message: str, code: int) -> int:
    line = f"task-api measure: {message}".replace("\n", " ")
    sys.stderr.write(line + "\n")
    _write_termination_log(line[:TERMINATION_LIMIT])
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one request; returns the exit code (I/O: reads inputs, writes stdout/stderr/termination log)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        return _fail(f"expected one argument (the request), given {len(args)}", EXIT_BAD_REQUEST)
    text = args[0] if args else os.environ.get(ENV_REQUEST)
    if not text:
        return _fail(f"no request: pass it as the argument or in {ENV_REQUEST}", EXIT_BAD_REQUEST)
    try:
        items = parse_request(text)
    except BadMeasureRequest as exc:
        return _fail(str(exc), EXIT_BAD_REQUEST)
    try:
        results = [measure(path, rule, channel=channel) for channel, path, rule in items]
    except MeasureError as exc:
        return _fail(str(exc), EXIT_FAILED)
    message = termination_message(results)
    if message is None:
        return _fail(
            f"the result of {len(results)} measurements does not fit a termination message ({TERMINATION_LIMIT} bytes)",
            EXIT_FAILED,
        )
    sys.stdout.write(render(results) + "\n")
    sys.stdout.flush()
    _write_termination_log(message)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in the tests
    sys.exit(main())
