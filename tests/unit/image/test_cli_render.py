"""The inspect subcommand's rendering and argument checks (pure: an Inspection built in memory)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from task_api.cli.inspect import add_arguments, render_json, render_table, run
from task_api.image.inspect import Inspection, InspectionSource, parse_spec_bytes

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "kaapana"
DIGEST = "sha256:" + "c" * 64


@pytest.fixture
def inspection() -> Inspection:
    data = (COMPAT / "pc-dummy-task.json").read_bytes()
    return Inspection(
        container=parse_spec_bytes(data, source="t", image="t"),
        digest=DIGEST,
        reference=f"127.0.0.1:5000/kaapana/dummy@{DIGEST}",
        source=InspectionSource.LAYER,
        bytes_read=1234,
        requests=4,
        raw=data,
    )


def test_table_lists_every_template(inspection: Inspection) -> None:
    text = render_table(inspection)
    rows = text.splitlines()
    header = next(i for i, r in enumerate(rows) if r.startswith("IDENTIFIER"))
    identifiers = [r.split()[0] for r in rows[header + 1 :]]
    assert identifiers == [t.identifier for t in inspection.container.templates]
    assert DIGEST in text
    upstream = rows[header + 1]
    assert "channel1, channel2" in upstream and "TIME_SLEEP=5" in upstream


def test_table_for_one_template(inspection: Inspection) -> None:
    text = render_table(inspection, "downstream")
    assert "downstream" in text and "upstream " not in text.split("IDENTIFIER")[1]


def test_json(inspection: Inspection) -> None:
    data = json.loads(render_json(inspection))
    assert data["digest"] == DIGEST and data["source"] == "layer"
    assert [t["identifier"] for t in data["processing_container"]["templates"]] == ["upstream", "downstream"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["img", "--username", "u"], "--username needs --password-stdin"),
        (["img", "--password-stdin"], "--password-stdin needs --username"),
        (["img", "--local", "--username", "u", "--password-stdin"], "--username does not apply"),
        (["Bad Ref"], "white space"),
    ],
)
def test_argument_errors_exit_2(argv: list[str], says: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    err = io.StringIO()
    code = run(parser.parse_args(argv), stdin=io.StringIO("pw\n"), stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert says in err.getvalue()
