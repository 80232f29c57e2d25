"""``task-api memory report`` — what runs were given, what they really used, and the scale rule that would have fitted.

Reads TaskRuns from a cluster (their ``status.memory.peaks``, recorded by the node agent) or local run records
(``task_run-*.json`` with the peak ``run --watch`` records), groups them by image digest and template, and shows per
group: runs, input sizes, the request/limit each got, its peak, the waste (request - peak) and OOM kills — and the
scale rule (mode, factor, static base) that would have covered every peak with the stated headroom and wasted
least, as the lines to put into processing-container.json. A chart plots peak against input size with what the
current rule gave and what the recommended one would give. ``--output json`` is the same for tools.

Exit codes: 0 a report was shown (also when there was nothing to learn from), 1 the cluster or the records could
not be read, 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from task_api.core.memory_usage import GroupReport, Observation

__all__ = ["add_parser", "run"]

MIB = 1024**2


def _headroom(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(0)
    if not Decimal(1) <= value <= Decimal(4):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed (allowed: a factor from 1 to 4, e.g. 1.1)")
    return value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "memory",
        help="peak memory of runs and the scale rule learned from it",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    commands = parser.add_subparsers(dest="memory_command", metavar="SUBCOMMAND")
    commands.required = True
    report = commands.add_parser("report", help="per image digest and template: peaks, waste, a recommended rule")
    source = report.add_mutually_exclusive_group()
    source.add_argument(
        "--records", type=Path, nargs="+", metavar="DIR", help="read local run records (task_run-*.json) here"
    )
    source.add_argument("--namespace", "-n", help="the namespace to read TaskRuns from (default: the context's)")
    source.add_argument("--all-namespaces", "-A", action="store_true", help="read TaskRuns from every namespace")
    report.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    report.add_argument("--context", help="kubeconfig context")
    report.add_argument("--template", help="only this task template")
    report.add_argument("--image", help="only images whose digest or reference contains this")
    report.add_argument(
        "--headroom",
        type=_headroom,
        default=Decimal("1.1"),
        help="the recommended rule covers every peak times this (default 1.1: 10 %% above the highest)",
    )
    report.add_argument("--output", "-o", choices=["text", "json"], default="text", help="output format")
    report.add_argument("--no-chart", action="store_true", help="text output without the chart")


def _from_records(directories: Sequence[Path]) -> list[Observation]:
    from task_api.runner.errors import RecordError
    from task_api.runner.memory import observation_from_record
    from task_api.runner.record import list_records

    observations = []
    for directory in directories:
        if not directory.is_dir():
            raise RecordError(f"{directory}: not a directory (allowed: folders holding task_run-*.json records)")
        for path, record in list_records(directory):
            if isinstance(record, RecordError):
                print(f"task-api memory: warning: {record}", file=sys.stderr)
                continue
            observations.append(observation_from_record(record, run=str(path)))
    return observations


def _from_cluster(args: argparse.Namespace) -> list[Observation]:
    import asyncio

    from task_api.core.memory_usage import observations_from_taskrun
    from task_api.kube import ClusterAccess, KubeClient
    from task_api.kube.client import resource_path
    from task_api.spec.crd import GROUP, VERSION

    access = ClusterAccess.load(kubeconfig=args.kubeconfig, context=args.context)

    async def fetch() -> list[dict[str, Any]]:
        async with KubeClient(access, user_agent="task-api-cli") as kube:
            namespace = None if args.all_namespaces else (args.namespace or access.namespace)
            path = resource_path(group=GROUP, version=VERSION, plural="taskruns", namespace=namespace)
            return await kube.list_items(path)

    return [obs for item in asyncio.run(fetch()) for obs in observations_from_taskrun(item)]


def _mib(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / MIB:.1f}Mi"


def _group_json(report: GroupReport) -> dict[str, Any]:
    rec = report.recommendation
    span = report.input_range
    return {
        "image": report.image,
        "template": report.template,
        "runs": report.runs,
        "attempts": report.attempts,
        "attemptsWithPeak": report.with_peak,
        "oomKills": report.oom_kills,
        "inputBytes": {"min": span[0], "max": span[1]} if span else None,
        "reservedBytes": report.reserved_total,
        "peakBytes": report.peak_total,
        "wasteBytes": report.waste_total,
        "observations": [
            {
                "run": o.run,
                "attempt": o.attempt,
                "inputs": [{"channel": i.channel, "mode": i.mode, "bytes": i.bytes} for i in o.inputs],
                "requestBytes": o.request_bytes,
                "limitBytes": o.limit_bytes,
                "peakBytes": o.peak_bytes,
                "wasteBytes": o.waste_bytes,
                "oomKilled": o.oom_killed,
            }
            for o in report.observations
        ],
        "recommendation": None
        if rec is None
        else {
            "channel": rec.channel,
            "mode": rec.mode,
            "type": rec.rule_type,
            "scaleFactor": float(rec.scale_factor) if rec.scale_factor is not None else None,
            "staticBytes": rec.base_bytes,
            "headroom": float(rec.headroom),
            "coversEveryPeak": rec.covers_all,
            "wasteBytes": rec.waste_bytes,
            "observations": rec.points,
            "scaleRule": rec.scale_rule(),
            "resources": rec.static_resources(),
            "description": rec.describe(),
        },
        "notes": list(report.notes),
    }


def _chart(report: GroupReport) -> list[str]:
    from task_api.cli._chart import Series, scatter_chart

    sized = [(obs, size) for obs in report.observations if (size := report.size_of(obs)) is not None]
    peaks = [(s / MIB, (o.peak_bytes or 0) / MIB) for o, s in sized if o.peak_bytes is not None and not o.oom_killed]
    ooms = [(s / MIB, (o.peak_bytes or 0) / MIB) for o, s in sized if o.peak_bytes is not None and o.oom_killed]
    given = [(s / MIB, (o.reserved_bytes or 0) / MIB) for o, s in sized if o.reserved_bytes is not None]
    rec = report.recommendation
    learned: list[tuple[float, float]] = []
    if rec is not None and sized:
        top = max(s for _, s in sized)
        learned = [(top * i / 59 / MIB, rec.value_for(round(top * i / 59)) / MIB) for i in range(60)]
    return scatter_chart(
        [
            Series("recommended rule", ".", learned),
            Series("what the current rule gave", "o", given),
            Series("peak", "*", peaks),
            Series("peak of an OOM-killed attempt", "X", ooms),
        ],
        x_label="input size (MiB)",
        y_label="memory (MiB)",
    )


def _group_text(report: GroupReport, *, chart: bool) -> list[str]:
    lines = [
        f"{report.image or '(unknown image)'}  template {report.template or '?'}",
        f"  {report.runs} run(s), {report.attempts} attempt(s), {report.with_peak} with a recorded peak, "
        f"{report.oom_kills} OOM kill(s)",
        f"  {'run':<40} {'att':>3} {'input':>10} {'request':>10} {'limit':>10} {'peak':>10} {'waste':>10}",
    ]
    by_size = sorted(report.observations, key=lambda o: (report.size_of(o) or 0, o.run, o.attempt))
    for obs in by_size:
        size = report.size_of(obs)
        peak = _mib(obs.peak_bytes) + (" OOM" if obs.oom_killed else "")
        lines.append(
            f"  {obs.run[-40:]:<40} {obs.attempt:>3} {_mib(size):>10} {_mib(obs.request_bytes):>10} "
            f"{_mib(obs.limit_bytes):>10} {peak:>10} {_mib(obs.waste_bytes):>10}"
        )
    if report.reserved_total:
        share = 100 * report.waste_total / report.reserved_total
        lines.append(
            f"  waste: {_mib(report.waste_total)} of {_mib(report.reserved_total)} reserved ({share:.0f} %) "
            "over the attempts with a peak"
        )
    rec = report.recommendation
    if rec is not None:
        lines.append(
            f"  recommended rule (covers every peak x{rec.headroom}, waste {_mib(rec.waste_bytes)} over the same "
            f"runs): {rec.describe()}"
        )
        parts = []
        if rec.scale_rule() is not None:
            parts.append(f'"scale_rule": {json.dumps(rec.scale_rule())} on input {rec.channel!r}')
        if rec.static_resources():
            parts.append(f'"resources": {json.dumps(rec.static_resources())}')
        lines.append("    in processing-container.json: " + "; ".join(parts))
    lines += [f"  note: {note}" for note in report.notes]
    if chart:
        lines += ["", *("  " + line for line in _chart(report))]
    return lines


def run(args: argparse.Namespace) -> int:
    from task_api.core.memory_usage import group_observations, group_report
    from task_api.spec.errors import TaskApiError

    try:
        observations = _from_records(args.records) if args.records else _from_cluster(args)
    except TaskApiError as exc:
        print(f"task-api memory report: {exc}", file=sys.stderr)
        return 1
    if args.template:
        observations = [o for o in observations if o.template == args.template]
    if args.image:
        observations = [o for o in observations if args.image in o.image]
    reports = [group_report(group, headroom=args.headroom) for group in group_observations(observations).values()]
    if args.output == "json":
        print(json.dumps({"headroom": float(args.headroom), "groups": [_group_json(r) for r in reports]}, indent=2))
        return 0
    if not reports:
        print("no runs found" + (" (with the filters given)" if args.template or args.image else ""))
        return 0
    for index, report in enumerate(reports):
        if index:
            print()
        print("\n".join(_group_text(report, chart=not args.no_chart)))
    return 0
