"""Kaapana's real files keep working: every processing-container.json and task.json in shared/compat/kaapana.

The files live beside the repository (``../shared/compat/kaapana`` from its root), in CI as here.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from task_api.cli.main import main
from task_api.core.merge import resolve
from task_api.spec import ScaleRuleMode, ScaleRuleType
from task_api.spec.load import parse_processing_container, parse_task
from task_api.spec.schema import json_schema

ROOT = Path(__file__).resolve().parents[3]
KAAPANA = ROOT.parent / "shared" / "compat" / "kaapana"
# What Kaapana's own test setup exports before it renders task files.
ENVIRON = {
    "registryUrl": "registry.example:5000/kaapana",
    "output_dir": "/tmp/kaapana-out",
    "namespace": "project-admin",
    "registryUsername": "kaapana",
    "registryPassword": "not-a-real-password",
}


def _files(pattern: str) -> list[Path]:
    found = sorted(KAAPANA.glob(pattern))
    if not found:
        pytest.fail(f"no {pattern} in {KAAPANA}: the shared compatibility files must sit beside the repository")
    return found


PCS = _files("pc-*.json") if KAAPANA.is_dir() else []
TASKS = _files("task-*.json") if KAAPANA.is_dir() else []


def test_the_shared_files_are_there() -> None:
    assert KAAPANA.is_dir(), f"{KAAPANA} is missing"
    assert len(PCS) >= 8 and len(TASKS) >= 2


@pytest.mark.parametrize("path", PCS, ids=lambda p: p.name)
def test_processing_containers_parse(path: Path) -> None:
    pc = parse_processing_container(path.read_bytes(), source=str(path))
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert [t.identifier for t in pc.templates] == [t["identifier"] for t in raw["templates"]]
    for template, raw_template in zip(pc.templates, raw["templates"], strict=True):
        assert [c.mounted_path for c in template.inputs] == [c["mounted_path"] for c in raw_template["inputs"]]
        assert {v.name: v.value for v in template.env} == {v["name"]: v["value"] for v in raw_template["env"]}


@pytest.mark.parametrize("path", PCS, ids=lambda p: p.name)
def test_processing_containers_validate_with_the_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", PCS, ids=lambda p: p.name)
def test_processing_containers_satisfy_the_published_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(json_schema("pc")).iter_errors(document)) == []


def test_scale_rules_keep_their_meaning() -> None:
    pc = parse_processing_container((KAAPANA / "pc-mitk-tools.json").read_bytes(), source="mitk")
    rule = pc.template("register").inputs[1].scale_rule
    assert rule is not None
    assert (rule.scale_factor, rule.type, rule.mode, rule.target_glob, rule.target_regex, rule.target_dir) == (
        100,
        ScaleRuleType.LIMIT,
        ScaleRuleMode.MAX_ITEM_SUM,
        "*.nrrd",
        ".*",
        "",
    )


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_tasks_parse_with_their_variables_set(path: Path) -> None:
    task = parse_task(path.read_bytes(), source=str(path), environ=ENVIRON)
    assert task.image == "registry.example:5000/kaapana/dummy:latest"
    assert all(
        (b.volume_source.host_path or "").startswith("/tmp/kaapana-out/dummy/") for b in [*task.inputs, *task.outputs]
    )
    assert "not-a-real-password" not in repr(task)


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_tasks_merge_with_the_dummy_container(path: Path) -> None:
    pc = parse_processing_container((KAAPANA / "pc-dummy-task.json").read_bytes(), source="pc-dummy-task.json")
    task = parse_task(path.read_bytes(), source=str(path), environ=ENVIRON)
    resolved = resolve(task, pc, source=str(path))
    assert resolved.config is not None and resolved.config.type == "k8s"
    if task.template_identifier == "upstream":
        # Kaapana passes undeclared env vars through; we do too, with a warning.
        assert resolved.env == {"TIME_SLEEP": "0", "DUMMY": "dummy"}
        assert [w.path for w in resolved.warnings] == ["env[1].name"]
    else:
        assert resolved.inputs[0].scale_rule is not None and resolved.inputs[0].scale_rule.scale_factor == 25
        assert resolved.resources.limits == {"memory": "50Mi"}


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_tasks_validate_with_the_cli(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    code = main(["validate", str(path), "--template", str(KAAPANA / "pc-dummy-task.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "not-a-real-password" not in out


@pytest.mark.parametrize("path", TASKS, ids=lambda p: p.name)
def test_tasks_without_their_variables_name_them(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRON:
        monkeypatch.delenv(name, raising=False)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    for name in ENVIRON:
        assert f"environment variable {name} is not set" in out


def test_upstream_task_loads_as_kaapanas_tests_load_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kaapana's tests export only registryUrl and output_dir; its rendering leaves the other placeholders "".
    for name in ENVIRON:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("registryUrl", ENVIRON["registryUrl"])
    monkeypatch.setenv("output_dir", ENVIRON["output_dir"])
    path = KAAPANA / "task-upstream.json"
    task = parse_task(
        path.read_bytes(), source=str(path), environ={k: ENVIRON[k] for k in ("registryUrl", "output_dir")}
    )
    assert task.config is not None and task.config.type == "k8s"
    assert (task.config.namespace, task.config.registryUsername, task.config.registryPassword) == (None, None, None)
    assert main(["validate", str(path), "--template", str(KAAPANA / "pc-dummy-workflow.json")]) == 0
    out = capsys.readouterr().out
    for name in ("namespace", "registryUsername", "registryPassword"):
        assert (
            f"warning: config.{name}: environment variable {name} is not set: this optional field is left unset" in out
        )
