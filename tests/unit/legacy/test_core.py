"""The pure half of legacy support: the migration, the marker, conf.json, what to stage, and the two hooks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from task_api.core import pod as pods
from task_api.core.legacy import (
    CONF_ENV,
    MARKER_ENV,
    SCRATCH_VOLUME,
    STAGE_CONTAINER,
    Copy,
    LegacyError,
    LegacyLayout,
    LegacyMode,
    LegacyReason,
    Link,
    MakeDir,
    StageKind,
    WriteFile,
    adapt_container_config,
    adapt_task_pod,
    check_task,
    conf_document,
    layout_of,
    legacy_env,
    stage_operations,
    template_for,
)
from task_api.core.merge import resolve
from task_api.spec import SpecError
from task_api.spec.load import parse_processing_container, parse_task
from tests.unit.legacy.helpers import answers, container, resolved

# -- the migration ------------------------------------------------------------------------------------------------


class TestTemplateFor:
    def test_declares_the_legacy_contract_as_non_adjustable_env(self) -> None:
        template = container().template("default")
        env = {v.name: v for v in template.env}
        assert env["WORKFLOW_DIR"].value == "/kaapana/mounted/data/task-api"
        assert env["BATCHES_INPUT_DIR"].value == "/kaapana/mounted/data/task-api/batch"
        assert env["OPERATOR_IN_DIR"].value == "dcm-converter"
        assert env["OPERATOR_OUT_DIR"].value == "seg"
        for name in ("WORKFLOW_DIR", "BATCH_NAME", "BATCHES_INPUT_DIR", "OPERATOR_IN_DIR", "OPERATOR_OUT_DIR",
                     "RUN_ID", MARKER_ENV):  # fmt: skip
            assert env[name].adjustable is False, name
        # The image's own variables keep their defaults and stay adjustable.
        assert (env["THRESHOLD"].value, env["THRESHOLD"].adjustable) == ("10", True)
        assert "workflow_form key 'threshold'" in (env["THRESHOLD"].description or "")
        assert json.loads(env[CONF_ENV].value) == {"label": "default"}

    def test_marker_round_trips_to_the_layout(self) -> None:
        template = container(stage=StageKind.LINK, mode=LegacyMode.WORKFLOW).template("default")
        layout = layout_of({v.name: v.value for v in template.env})
        assert layout is not None
        assert layout.mode is LegacyMode.WORKFLOW
        assert layout.stage is StageKind.LINK
        assert layout.workflow_form == {"THRESHOLD": "threshold"}
        assert [c.mounted_path for c in template.inputs] == [layout.input_path]
        assert [c.mounted_path for c in template.outputs] == [layout.output_path]
        # The env the image sees agrees with the layout.
        assert {k: v.value for k, v in ((v.name, v) for v in template.env) if k in legacy_env(layout)} == legacy_env(
            layout
        )

    def test_command_is_kept(self) -> None:
        assert container(command=["/bin/sh", "/run.sh"]).template("default").command == ["/bin/sh", "/run.sh"]

    @pytest.mark.parametrize(
        ("changes", "path", "fragment"),
        [
            ({"env": [("WORKFLOW_DIR", "/x", None)], "workflow_form": []}, "env[0]", "set by the migration"),
            ({"env": [(MARKER_ENV, "{}", None)], "workflow_form": []}, "env[0]", "set by the migration"),
            ({"env": [("1BAD", "x", None)], "workflow_form": []}, "env[0]", "not an env var name"),
            ({"env": [("A", "1", None), ("A", "2", None)], "workflow_form": []}, "env[1]", "given twice"),
            ({"workflow_form": ["NOPE"]}, "workflow_form", "not one of the declared env vars"),
            ({"operator_in_dir": "a/b"}, "operator_in_dir", "one directory name"),
            ({"operator_out_dir": ".."}, "operator_out_dir", "one directory name"),
            ({"operator_out_dir": "dcm-converter"}, "", "must differ"),
            ({"mode": LegacyMode.WORKFLOW, "operator_in_dir": "batch"}, "", "'batch' is taken"),
            ({"batch_name": "conf"}, "", "conf.json"),
            ({"input": "same", "output": "same"}, "", "different names"),
            ({"workflow_root": "relative"}, "workflow_dir", "absolute"),
        ],
    )
    def test_bad_answers_are_named(self, changes: dict[str, Any], path: str, fragment: str) -> None:
        with pytest.raises(LegacyError) as caught:
            template_for(answers(**changes))
        assert caught.value.reason is LegacyReason.INVALID_LAYOUT
        assert any(p.path == path and fragment in p.message for p in caught.value.problems), caught.value.problems


def _marker() -> str:
    return next(v.value for v in container().template("default").env if v.name == MARKER_ENV)


# -- the marker -----------------------------------------------------------------------------------------------------


class TestLayoutOf:
    def test_absent_means_an_ordinary_task(self) -> None:
        assert layout_of({"WORKFLOW_DIR": "/x"}) is None

    @pytest.mark.parametrize(
        ("value", "path", "fragment"),
        [
            ("{not json", f"env.{MARKER_ENV}", "not JSON"),
            ("[]", f"env.{MARKER_ENV}", "valid dictionary"),
            ('{"version": 1}', f"env.{MARKER_ENV}.workflow_dir", "Field required"),
        ],
    )
    def test_malformed_marker(self, value: str, path: str, fragment: str) -> None:
        with pytest.raises(LegacyError) as caught:
            layout_of({MARKER_ENV: value}, source="pc.json")
        assert caught.value.reason is LegacyReason.INVALID_LAYOUT
        assert any(p.path == path and fragment in p.message for p in caught.value.problems), caught.value.problems
        assert str(caught.value).startswith("pc.json: ")

    def test_unknown_keys_and_versions_are_refused(self) -> None:
        good = json.loads(_marker())
        for bad, path in (({**good, "extra": 1}, "extra"), ({**good, "version": 2}, "version")):
            with pytest.raises(LegacyError) as caught:
                layout_of({MARKER_ENV: json.dumps(bad)})
            assert [p.path for p in caught.value.problems] == [f"env.{MARKER_ENV}.{path}"]


# -- a resolved task -------------------------------------------------------------------------------------------------


class TestCheckTask:
    def test_a_migrated_task_passes(self) -> None:
        layout = check_task(resolved(), stage_image="registry.local/task-api:1")
        assert layout is not None and layout.operator_in_dir == "dcm-converter"

    def test_an_ordinary_task_is_left_alone(self) -> None:
        task = parse_task(
            json.dumps({"name": "t", "image": "i:1", "taskTemplate": {"identifier": "x", "command": ["true"]}}),
            source="task.json",
            environ={},
        )
        assert check_task(resolve(task, None), stage_image="") is None

    def test_the_legacy_contract_cannot_be_overridden(self) -> None:
        with pytest.raises(SpecError) as caught:
            resolved(env=[{"name": "WORKFLOW_DIR", "value": "/elsewhere"}])
        assert any("WORKFLOW_DIR is not adjustable" in p.message for p in caught.value.problems)

    def test_a_task_cannot_inject_the_marker_into_an_ordinary_template(self) -> None:
        marker = _marker()
        task = parse_task(
            json.dumps(
                {
                    "name": "t",
                    "image": "i:1",
                    "taskTemplate": {"identifier": "x", "command": ["true"]},
                    "env": [{"name": MARKER_ENV, "value": marker}],
                }
            ),
            source="task.json",
            environ={},
        )
        with pytest.raises(LegacyError) as caught:
            check_task(resolve(task, None), source="task.json")
        assert caught.value.reason is LegacyReason.RESERVED_ENV
        assert "reserved" in str(caught.value)

    @pytest.mark.parametrize(
        ("conf", "fragment"),
        [
            ('{"password": "hunter2"', "not JSON"),
            ('["a"]', "must be a JSON object"),
            ('{"workflow_form": 3, "password": "hunter2"}', "must be a JSON object"),
        ],
    )
    def test_bad_conf_is_refused_without_showing_it(self, conf: str, fragment: str) -> None:
        with pytest.raises(LegacyError) as caught:
            check_task(resolved(env=[{"name": CONF_ENV, "value": conf}]), source="task.json")
        assert caught.value.reason is LegacyReason.INVALID_CONF
        assert fragment in str(caught.value)
        assert "hunter2" not in str(caught.value)

    def test_the_operator_needs_its_own_image_for_staging(self) -> None:
        with pytest.raises(LegacyError) as caught:
            check_task(resolved(), stage_image="")
        assert caught.value.reason is LegacyReason.NO_STAGE_IMAGE
        assert "TASK_API_MEASURE_IMAGE" in str(caught.value)


class TestConfDocument:
    def test_workflow_form_env_wins_and_other_keys_stay(self) -> None:
        conf = '{"workflow_form": {"threshold": 9, "x": 1}, "k": "v"}'
        task = resolved(env=[{"name": "THRESHOLD", "value": "4"}, {"name": CONF_ENV, "value": conf}])
        layout = check_task(task)
        assert layout is not None
        assert conf_document(layout, task.env) == {"workflow_form": {"threshold": "4", "x": 1}, "k": "v"}

    def test_defaults(self) -> None:
        task = resolved()
        layout = check_task(task)
        assert layout is not None
        assert conf_document(layout, task.env) == {"label": "default", "workflow_form": {"threshold": "10"}}


# -- what to stage ---------------------------------------------------------------------------------------------------


def _layout(**changes: Any) -> tuple[LegacyLayout, dict[str, str]]:
    task = resolved(**changes)
    layout = check_task(task)
    assert layout is not None
    return layout, task.env


class TestStageOperations:
    def test_per_element_copy(self) -> None:
        layout, env = _layout()
        ops = stage_operations(layout, env, ["e1", "e2"], workflow_root="/w", input_root="/i", output_root="/o")
        out = layout.output_path
        assert ops[:2] == [MakeDir("/w"), MakeDir("/w/batch")]
        assert ops[2:7] == [
            MakeDir("/w/batch/e1"),
            Copy("/i/e1", "/w/batch/e1/dcm-converter"),
            MakeDir("/o/e1"),
            Link("/w/batch/e1/seg", f"{out}/e1"),
            MakeDir("/w/batch/e2"),
        ]
        assert ops[-2] == MakeDir("/w/conf")
        last = ops[-1]
        assert isinstance(last, WriteFile) and last.path == "/w/conf/conf.json"
        assert json.loads(last.text) == {"label": "default", "workflow_form": {"threshold": "10"}}

    def test_per_element_link_targets_are_the_images_paths(self) -> None:
        layout, env = _layout(stage=StageKind.LINK)
        ops = stage_operations(layout, env, ["e1"], workflow_root="/host/w", input_root="/host/i",
                               output_root="/host/o")  # fmt: skip
        assert Link("/host/w/batch/e1/dcm-converter", f"{layout.input_path}/e1") in ops
        assert not any(isinstance(op, Copy) for op in ops)

    def test_workflow_mode(self) -> None:
        layout, env = _layout(mode=LegacyMode.WORKFLOW)
        ops = stage_operations(layout, env, [], workflow_root="/w", input_root="/i", output_root="/o")
        assert Copy("/i", "/w/dcm-converter") in ops
        assert Link("/w/seg", layout.output_path) in ops
        assert not any(isinstance(op, MakeDir) and op.path.startswith("/o") for op in ops)


# -- the hooks -------------------------------------------------------------------------------------------------------


def _plan(env: dict[str, str], run_as: pods.RunAs | None = None) -> pods.PodPlan:
    return pods.PodPlan(
        owner=pods.Owner(name="run", namespace="ns", uid="u-1"),
        attempt=1,
        image="registry.local/legacy:1",
        command=None,
        env=list(env.items()),
        mounts=[
            pods.ChannelMount("input", "/task-api/legacy/inputs/input", pods.ChannelVolume(claim_name="data"), True),
            pods.ChannelMount("output", "/task-api/legacy/outputs/output", pods.ChannelVolume(claim_name="res"), False),
        ],
        image_pull_secrets=("regcred",),
        run_as=run_as,
    )


class TestAdaptTaskPod:
    def test_the_staging_container_runs_as_the_tasks_non_root_user(self) -> None:
        pod = adapt_task_pod(
            pods.build_task_pod(_plan(dict(resolved().env), pods.RunAs(user=1000, group=1001, fs_group=1001))),
            stage_image="op:1",
        )
        (stage,) = pod["spec"]["initContainers"]
        context = stage["securityContext"]
        assert (context["runAsNonRoot"], context["runAsUser"], context["runAsGroup"]) == (True, 1000, 1001)

    def test_a_variable_from_a_secret_keeps_its_reference(self) -> None:
        env = dict(resolved().env)
        plan = replace(_plan(env), secret_env={"FROM_SECRET": pods.SecretKey("token", "value")})
        pod = adapt_task_pod(pods.build_task_pod(plan), stage_image="op:1")
        ref = {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "token", "key": "value"}}}
        assert ref in pod["spec"]["containers"][0]["env"]
        assert ref in pod["spec"]["initContainers"][0]["env"]

    def test_the_staging_container_is_root_only_when_the_task_may_be(self) -> None:
        pod = adapt_task_pod(pods.build_task_pod(_plan(dict(resolved().env))), stage_image="op:1")
        (stage,) = pod["spec"]["initContainers"]
        assert (stage["securityContext"]["runAsUser"], stage["securityContext"]["runAsGroup"]) == (0, 0)

    def test_an_ordinary_pod_is_returned_unchanged(self) -> None:
        manifest = pods.build_task_pod(_plan({"A": "1"}))
        assert adapt_task_pod(manifest, stage_image="op:1") is manifest

    def test_a_legacy_pod_gets_a_staging_init_container(self) -> None:
        env = dict(resolved().env)
        env["WORKFLOW_DIR"] = "/tampered"  # the hook re-derives the contract from the layout
        manifest = pods.build_task_pod(_plan(env))
        before = json.dumps(manifest, sort_keys=True)
        pod = adapt_task_pod(manifest, stage_image="op:1", stage_pull_secrets=("opcred", "regcred"))
        assert json.dumps(manifest, sort_keys=True) == before  # the input is not modified
        spec = pod["spec"]
        (stage,) = spec["initContainers"]
        task = spec["containers"][0]
        assert stage["name"] == STAGE_CONTAINER
        assert stage["image"] == "op:1"
        assert stage["command"] == ["python3", "-m", "task_api.legacy.stage"]
        assert stage["env"] == task["env"]
        assert {"name": "WORKFLOW_DIR", "value": "/kaapana/mounted/data/task-api"} in task["env"]
        assert stage["volumeMounts"] == task["volumeMounts"]
        assert {"name": SCRATCH_VOLUME, "mountPath": "/kaapana/mounted/data/task-api"} in task["volumeMounts"]
        assert {"name": SCRATCH_VOLUME, "emptyDir": {}} in spec["volumes"]
        assert stage["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert stage["securityContext"]["allowPrivilegeEscalation"] is False
        assert [s["name"] for s in spec["imagePullSecrets"]] == ["regcred", "opcred"]
        assert pod["metadata"]["annotations"]["task-api.io/legacy"] == "per-element"


class TestAdaptContainerConfig:
    def test_mounts_the_scratch_dir_and_sets_the_contract(self) -> None:
        layout, _ = _layout()
        config = {"Env": ["WORKFLOW_DIR=/tampered", "A=1"], "HostConfig": {"Mounts": [{"Target": "/x"}]}}
        adapted = adapt_container_config(config, layout=layout, workflow_host_dir="/tmp/w")
        assert config["Env"] == ["WORKFLOW_DIR=/tampered", "A=1"]
        assert adapted["HostConfig"]["Mounts"][-1] == {
            "Type": "bind", "Source": "/tmp/w", "Target": layout.workflow_dir, "ReadOnly": False,
        }  # fmt: skip
        assert "A=1" in adapted["Env"]
        assert f"WORKFLOW_DIR={layout.workflow_dir}" in adapted["Env"]
        assert "WORKFLOW_DIR=/tampered" not in adapted["Env"]
        assert adapted["Labels"]["io.task-api.legacy-workflow-dir"] == "/tmp/w"


def test_generated_file_validates_like_any_processing_container() -> None:
    text = json.dumps(template_for(answers(command=["/run.sh"])))
    assert parse_processing_container(text, source="pc.json").name == "legacy-test"
