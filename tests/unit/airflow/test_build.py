"""Pure unit tests of what the Airflow operator decides before it talks to a cluster (no Airflow, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from task_api.airflow.build import (
    EnvSource,
    IOMapping,
    OperatorConfigError,
    UpstreamResult,
    bind_inputs,
    build_credentials_secret,
    build_env_secret,
    build_taskrun,
    check_against_template,
    env_list,
    outcome,
    outputs_from_status,
    plain,
    pod_settings,
    resource_overrides,
    secret_env_values,
    split_aliases,
    user_config,
)
from task_api.airflow.naming import earlier_tries, label_value, run_name, taskrun_name
from task_api.core.taskrun.secret_env import secret_env
from task_api.processing_container import pc_models
from task_api.spec import Severity, TaskTemplate
from task_api.spec.crd.taskrun import TaskRunSpec

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class TestNames:
    @pytest.mark.parametrize(
        ("dag_id", "task_id", "run_id"),
        [
            ("my-dag", "get_data", "manual__2024-01-01T00:00:00+00:00"),
            ("Upper.Case DAG", "Task.With.Dots", "scheduled__x"),
            ("d" * 200, "t" * 200, "r"),
            ("___", "---", "run"),
            ("dag", "task ünïcode", "run"),
        ],
    )
    def test_names_are_dns_labels_of_at_most_63(self, dag_id: str, task_id: str, run_id: str) -> None:
        name = taskrun_name(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=12)
        assert len(name) <= 63
        assert DNS_LABEL.match(name), name
        assert "-t12-" in name

    def test_same_try_same_name_new_try_new_name(self) -> None:
        first = taskrun_name(dag_id="dag", task_id="task", run_id="run", try_number=1)
        assert first == taskrun_name(dag_id="dag", task_id="task", run_id="run", try_number=1)
        assert first != taskrun_name(dag_id="dag", task_id="task", run_id="run", try_number=2)

    @pytest.mark.parametrize(
        "other",
        [
            {"dag_id": "dag", "task_id": "task", "run_id": "run2"},
            {"dag_id": "dag", "task_id": "task_", "run_id": "run"},  # sanitises to the same readable part
            {"dag_id": "dag", "task_id": "task", "run_id": "run", "map_index": 3},
        ],
    )
    def test_different_instances_differ(self, other: dict[str, Any]) -> None:
        base = taskrun_name(dag_id="dag", task_id="task", run_id="run", try_number=1)
        assert taskrun_name(**other, try_number=1) != base

    def test_earlier_tries_are_the_names_those_tries_used(self) -> None:
        def name(n: int) -> str:
            return taskrun_name(dag_id="d", task_id="t", run_id="r", map_index=2, try_number=n)

        assert earlier_tries(dag_id="d", task_id="t", run_id="r", map_index=2, try_number=1) == []
        assert earlier_tries(dag_id="d", task_id="t", run_id="r", map_index=2, try_number=3) == [name(1), name(2)]

    def test_long_names_keep_the_hash(self) -> None:
        a = taskrun_name(dag_id="d" * 80, task_id="a", run_id="r", try_number=1)
        b = taskrun_name(dag_id="d" * 80, task_id="b", run_id="r", try_number=1)
        assert a != b and len(a) == len(b) == 63

    @pytest.mark.parametrize(("text", "want"), [("a b", "a-b"), ("-x-", "x"), ("ok.1_2", "ok.1_2"), ("é" * 70, "")])
    def test_label_values(self, text: str, want: str) -> None:
        assert label_value(text) == want

    @pytest.mark.parametrize(
        ("prefix", "run_id"),
        [("download", "manual__2024-01-01T00:00:00.123456+00:00"), ("P" * 90, "r"), ("", "__"), ("x", "ü" * 300)],
    )
    def test_run_names_are_dns_labels_per_run(self, prefix: str, run_id: str) -> None:
        name = run_name(prefix, run_id)
        assert len(name) <= 63 and DNS_LABEL.match(name), name
        assert name == run_name(prefix, run_id)
        assert name != run_name(prefix, run_id + "x")

    def test_run_names_stay_readable(self) -> None:
        name = run_name("download", "manual__2024-01-01T00:00:00+00:00")
        assert re.fullmatch(r"download-manual-2024-01-01t00-00-00-00-00-[0-9a-f]{8}", name), name


class TestAliases:
    def test_guide_names_map_to_snake_case_and_leave_the_rest(self) -> None:
        kwargs: dict[str, Any] = {
            "task_id": "t",
            "taskTemplate": "x",
            "registryUrl": "r",
            "registryUsername": "u",
            "registryPassword": "p",
        }
        found = split_aliases(kwargs)
        assert found == {
            "task_template": "x",
            "registry_url": "r",
            "registry_username": "u",
            "registry_password": "p",
        }
        assert kwargs == {"task_id": "t"}

    def test_both_spellings_is_an_error(self) -> None:
        with pytest.raises(OperatorConfigError, match="taskTemplate and task_template are the same argument"):
            split_aliases({"taskTemplate": "a", "task_template": "b"})


TEMPLATE = TaskTemplate.model_validate(
    {
        "identifier": "algo",
        "env": [
            {"name": "MODE", "value": "upper", "choices": ["upper", "copy"]},
            {"name": "N", "value": 1, "type": "int"},
            {"name": "FIXED", "value": "a", "adjustable": False},
        ],
        "inputs": [{"name": "inputs", "mounted_path": "/in"}],
        "outputs": [{"name": "results", "mounted_path": "/out"}],
    }
)


class TestUserConfig:
    @pytest.mark.parametrize(
        ("form", "env"),
        [
            ({"env": [{"name": "A", "value": "1"}]}, {"A": "1"}),
            ({"env": {"A": 2, "B": True}}, {"A": "2", "B": "true"}),
            ({"A": "guide-form"}, {"A": "guide-form"}),
            ({}, {}),
        ],
    )
    def test_env_forms(self, form: dict[str, Any], env: dict[str, str]) -> None:
        assert user_config({"task_form": {"t": form}}, "t").env == env

    def test_other_tasks_and_missing_conf_are_ignored(self) -> None:
        assert user_config({"task_form": {"other": {"A": "1"}}}, "t").env == {}
        assert user_config(None, "t").env == {}

    @pytest.mark.parametrize(
        ("form", "message"),
        [
            ({"nested": {"x": 1}}, "task_form.t.nested: unknown key"),
            ({"env": [{"name": "A"}]}, "task_form.t.env[0]: an env entry needs name and value"),
            ({"env": {"1BAD": "x"}}, "task_form.t.env.1BAD: not a valid variable name"),
            ({"command": "ls"}, "task_form.t.command: must be a list of strings"),
            ({"env": "A=1"}, "task_form.t.env: env must be a mapping"),
        ],
    )
    def test_bad_forms_name_the_path(self, form: dict[str, Any], message: str) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            user_config({"task_form": {"t": form}}, "t")
        assert message in str(caught.value)
        assert str(caught.value).startswith("DAG run conf: ")


class TestTemplateChecks:
    def test_good_values_pass_and_unknown_vars_warn(self) -> None:
        warnings = check_against_template(
            TEMPLATE,
            env={"MODE": EnvSource("copy", "env.MODE"), "EXTRA": EnvSource("1", "env.EXTRA")},
            input_channels={"inputs": "iochannel_maps[0].input_channel"},
            source="dag.task",
        )
        assert [w.severity for w in warnings] == [Severity.WARNING]
        assert "EXTRA is not declared" in warnings[0].message

    def test_every_error_is_reported_with_its_path(self) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            check_against_template(
                TEMPLATE,
                env={
                    "MODE": EnvSource("shout", "conf.task_form.t.MODE"),
                    "N": EnvSource("x", "env.N"),
                    "FIXED": EnvSource("b", "env.FIXED"),
                },
                input_channels={"input": "iochannel_maps[0].input_channel"},
                source="dag.task",
            )
        text = str(caught.value)
        assert (
            "dag.task: conf.task_form.t.MODE: MODE: not one of the choices (declared type string) "
            '(given "shout"; allowed "upper", "copy")'
        ) in text
        assert "env.N: N: not an integer" in text
        assert "env.FIXED: FIXED is not adjustable" in text
        assert (
            "iochannel_maps[0].input_channel: template 'algo' has no input channel 'input' (did you mean 'inputs'?)"
        ) in text
        assert "input channel 'inputs' of template 'algo' is not bound" in text

    def test_secret_values_are_redacted(self) -> None:
        template = TaskTemplate.model_validate(
            {"identifier": "x", "env": [{"name": "API_TOKEN", "value": "a", "choices": ["a", "b"]}]}
        )
        with pytest.raises(OperatorConfigError) as caught:
            check_against_template(
                template, env={"API_TOKEN": EnvSource("s3cr3t", "env.API_TOKEN")}, input_channels={}, source="s"
            )
        assert "s3cr3t" not in str(caught.value) and "<redacted>" in str(caught.value)


class TestSecretEnv:
    """``secret_env``: values kept out of the TaskRun, in a Secret it owns."""

    def test_forms_and_values_as_strings(self) -> None:
        assert secret_env_values({"TOKEN": "s", "N": 3}, env={}, source="s") == {"TOKEN": "s", "N": "3"}
        assert secret_env_values([{"name": "TOKEN", "value": "s"}], env={}, source="s") == {"TOKEN": "s"}
        assert secret_env_values(None, env={"A": "1"}, source="s") == {}

    @pytest.mark.parametrize(
        ("given", "env", "message"),
        [
            ({"MODE": "hunter2"}, {"MODE": "copy"}, "secret_env.MODE: MODE is given in env too"),
            ({"1BAD": "hunter2"}, {}, "secret_env.1BAD: not a valid variable name"),
            ({"TOKEN": {"nested": "hunter2"}}, {}, "secret_env.TOKEN: TOKEN: a value must be a string"),
            ("TOKEN=hunter2", {}, "secret_env: env must be a mapping"),
        ],
    )
    def test_mistakes_name_the_argument_never_the_value(self, given: Any, env: dict[str, str], message: str) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            secret_env_values(given, env=env, source="TaskRunOperator(task_id='t')")
        assert message in str(caught.value)
        assert "hunter2" not in str(caught.value)

    def test_only_declared_adjustable_variables_and_values_redacted(self) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            check_against_template(
                TEMPLATE,
                env={},
                input_channels={"inputs": "inputs.inputs"},
                source="dag.task",
                secret_env={
                    "FIXED": EnvSource("hunter2", "secret_env.FIXED"),
                    "NOPE": EnvSource("hunter2", "secret_env.NOPE"),
                    "N": EnvSource("hunter2", "secret_env.N"),
                    "MODE": EnvSource("copy", "secret_env.MODE"),
                },
            )
        text = str(caught.value)
        assert "secret_env.FIXED: FIXED is not adjustable in template 'algo'; only declared, adjustable" in text
        assert "secret_env.NOPE: NOPE is not declared by template 'algo'" in text
        assert "secret_env.N: N: not an integer (declared type int) (given <redacted>" in text
        assert "secret_env.MODE" not in text  # a good value passes
        assert "hunter2" not in text

    def test_the_taskrun_names_the_secret_key_and_holds_no_value(self) -> None:
        body = build_taskrun(
            name="r", namespace="ns", task_template="t", image="i", env={"MODE": "copy"}, secret_env=["TOKEN"]
        )
        assert body["spec"]["env"] == [
            {"name": "MODE", "value": "copy"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "r-env", "key": "TOKEN"}}},
        ]
        # What the reconciler reads off it: the pod gets the Secret's key for TOKEN.
        spec = TaskRunSpec.model_validate(body["spec"])
        assert {n: (r.name, r.key) for n, r in secret_env(spec).items()} == {"TOKEN": ("r-env", "TOKEN")}

    def test_env_secret_is_owned_by_the_taskrun_and_holds_the_values(self) -> None:
        run = {"metadata": {"name": "r" * 63, "namespace": "ns", "uid": "u-1"}}
        secret = build_env_secret(taskrun=run, values={"TOKEN": "hunter2"}, labels={"x": "y"})
        name = secret["metadata"]["name"]
        assert len(name) <= 63 and name.endswith("-env")
        body = build_taskrun(name="r" * 63, namespace="ns", task_template="t", image="i", secret_env=["TOKEN"])
        assert body["spec"]["env"][0]["valueFrom"]["secretKeyRef"] == {"name": name, "key": "TOKEN"}
        assert secret["metadata"]["namespace"] == "ns"
        assert [(o["kind"], o["name"], o["uid"]) for o in secret["metadata"]["ownerReferences"]] == [
            ("TaskRun", "r" * 63, "u-1")
        ]
        assert secret["stringData"] == {"TOKEN": "hunter2"}
        # Not opted in for registryCredentialsSecret: it is no login.
        assert secret["metadata"]["labels"] == {"x": "y"}


@dataclass
class FakeUpstream:
    """Stands in for an upstream operator object: bind_inputs reads only its task_id."""

    task_id: str


class TestBindInputs:
    def test_mapping_becomes_from_taskrun(self) -> None:
        up = FakeUpstream("get")
        result = UpstreamResult("get", "run-get", {"downloads": {"claimName": "ws", "subPath": "p"}})
        bindings = bind_inputs([IOMapping(up, "downloads", "inputs")], {"get": result}, source="s")
        assert bindings == [{"name": "inputs", "fromTaskRun": {"name": "run-get", "output": "downloads"}}]

    def test_unknown_upstream_channel_lists_the_real_ones(self) -> None:
        result = UpstreamResult("get", "run-get", {"downloads": {}})
        with pytest.raises(OperatorConfigError) as caught:
            bind_inputs([IOMapping(FakeUpstream("get"), "download", "inputs")], {"get": result}, source="s")
        assert "iochannel_maps[0].upstream_output_channel" in str(caught.value)
        assert "(did you mean 'downloads'?)" in str(caught.value)
        assert 'allowed "downloads"' in str(caught.value)

    def test_upstream_without_result_and_duplicate_channels(self) -> None:
        maps = [IOMapping(FakeUpstream("a"), "x", "in"), IOMapping(FakeUpstream("b"), "y", "in")]
        with pytest.raises(OperatorConfigError) as caught:
            bind_inputs(maps, {"a": UpstreamResult("a", "ra", {"x": {}}), "b": None}, source="s")
        text = str(caught.value)
        assert "upstream task 'b' has no TaskRun result in XCom" in text
        assert "iochannel_maps[1].input_channel: input channel 'in' is already bound by iochannel_maps[0]" in text


class TestBody:
    def test_full_body(self) -> None:
        body = build_taskrun(
            name="run-1",
            namespace="ns",
            task_template="algo",
            image="reg/x:1",
            inputs=[{"name": "inputs", "fromTaskRun": {"name": "up", "output": "o"}}],
            env={"MODE": "copy"},
            command=["sh", "-c", "true"],
            resources={"limits": {"memory": "1Gi"}, "bogus": {}},
            image_pull_secrets=["pull"],
            with_credentials=True,
            timeout_seconds=60,
            retries={"limit": 1},
            labels={"l": "v"},
            annotations={"a": "b"},
        )
        assert body == {
            "apiVersion": "task-api.io/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "run-1", "namespace": "ns", "labels": {"l": "v"}, "annotations": {"a": "b"}},
            "spec": {
                "taskTemplate": "algo",
                "image": "reg/x:1",
                "imagePullSecrets": [{"name": "pull"}],
                "registryCredentialsSecret": {"name": "run-1-credentials"},
                "inputs": [{"name": "inputs", "fromTaskRun": {"name": "up", "output": "o"}}],
                "env": [{"name": "MODE", "value": "copy"}],
                "command": ["sh", "-c", "true"],
                "resources": {"limits": {"memory": "1Gi"}},
                "timeoutSeconds": 60,
                "retries": {"limit": 1},
            },
        }

    def test_run_as_root_only_when_asked(self) -> None:
        body = build_taskrun(name="r", namespace="ns", task_template="t", image="i", run_as_root=True)
        assert body["spec"]["runAsRoot"] is True
        assert "runAsRoot" not in build_taskrun(name="r", namespace="ns", task_template="t", image="i")["spec"]

    def test_pending_timeout(self) -> None:
        body = build_taskrun(name="r", namespace="ns", task_template="t", image="i", pending_timeout_seconds=3600)
        assert body["spec"]["pendingTimeoutSeconds"] == 3600
        assert (
            "pendingTimeoutSeconds" not in build_taskrun(name="r", namespace="ns", task_template="t", image="i")["spec"]
        )

    def test_processing_container_ref_and_the_one_of_rule(self) -> None:
        body = build_taskrun(name="r", namespace="ns", task_template="t", processing_container="pc")
        assert body["spec"] == {"taskTemplate": "t", "processingContainerRef": {"name": "pc"}}
        with pytest.raises(OperatorConfigError, match="exactly one of image and processing_container"):
            build_taskrun(name="r", namespace="ns", task_template="t")

    def test_credentials_secret_is_owned_by_the_taskrun(self) -> None:
        run = {"metadata": {"name": "r", "namespace": "ns", "uid": "u-1"}}
        secret = build_credentials_secret(taskrun=run, username="me", password="pw", labels={"x": "y"})
        assert secret["metadata"]["name"] == "r-credentials"
        assert secret["metadata"]["ownerReferences"][0] | {} == {
            "apiVersion": "task-api.io/v1alpha1",
            "kind": "TaskRun",
            "name": "r",
            "uid": "u-1",
            "controller": False,
            "blockOwnerDeletion": False,
        }
        assert secret["stringData"] == {"username": "me", "password": "pw"}
        # Opted in for registryCredentialsSecret: the operator refuses Secrets without the label.
        assert secret["metadata"]["labels"] == {"x": "y", "task-api.io/registry-credentials": "true"}


class TestOutcome:
    @pytest.mark.parametrize(
        ("cond", "finished", "succeeded", "retryable"),
        [
            ({"status": "True", "reason": "Succeeded"}, True, True, False),
            ({"status": "False", "reason": "OOMKilled"}, True, False, True),
            ({"status": "False", "reason": "TimedOut"}, True, False, True),
            ({"status": "False", "reason": "Failed"}, True, False, True),
            ({"status": "False", "reason": "InvalidSpec"}, True, False, False),
            ({"status": "False", "reason": "UpstreamFailed"}, True, False, False),
            ({"status": "Unknown", "reason": "Running"}, False, False, True),
        ],
    )
    def test_reasons(self, cond: dict[str, str], finished: bool, succeeded: bool, retryable: bool) -> None:
        result = outcome({"status": {"conditions": [{"type": "Succeeded", **cond}]}})
        assert (result.finished, result.succeeded, result.retryable) == (finished, succeeded, retryable)
        assert result.reason == cond["reason"]

    def test_no_status_is_pending(self) -> None:
        assert outcome({}).finished is False and outcome({}).reason == "Pending"

    def test_outputs(self) -> None:
        status = {"outputs": [{"name": "o", "claimName": "ws", "subPath": "p", "hostPath": None}, {"x": 1}]}
        assert outputs_from_status(status) == {"o": {"claimName": "ws", "subPath": "p"}}


class TestKaapanaArguments:
    """What Kaapana's KaapanaTaskOperator takes, as the TaskRun gets it."""

    def test_pc_models_env_and_resources_are_mappings(self) -> None:
        env = [pc_models.BaseEnv(name="PACS_PORT", value="11112"), {"name": "DATASET", "value": "head"}]
        assert env_list(env, path="env", source="dag") == {"PACS_PORT": "11112", "DATASET": "head"}
        templated = [pc_models.TaskTemplateEnv(name="A", value=1, choices=["1"])]
        assert env_list(templated, path="env", source="dag") == {"A": "1"}
        resources = pc_models.Resources(limits={"memory": "4Gi", "cpu": None}, requests={"memory": "1Gi"})
        assert plain(resources) == {"limits": {"memory": "4Gi", "cpu": None}, "requests": {"memory": "1Gi"}}
        # A None quantity means "not set" (Kaapana's own operators build such Resources).
        assert resource_overrides(resources, source="dag") == {
            "requests": {"memory": "1Gi"},
            "limits": {"memory": "4Gi"},
        }
        assert resource_overrides(pc_models.Resources(), source="dag") is None

    def test_bad_resources_are_refused_with_their_path(self) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            resource_overrides({"limits": {"memroy": "1Gi", "cpu": "lots"}}, source="dag")
        text = str(caught.value)
        assert "resources.limits.memroy: unknown resource (did you mean 'memory'?)" in text
        assert "resources.limits.cpu" in text and '"lots"' in text

    def test_kaapana_defaults_become_the_taskrun_limits(self) -> None:
        pod = pod_settings(
            labels={"network-access-ctp": "true"},
            annotations={"example.org/note": "free text: any value"},
            startup_timeout_seconds=3600,
            execution_timeout=timedelta(minutes=90),
            source="dag",
        )
        assert pod.labels == {"network-access-ctp": "true"}
        assert pod.annotations == {"example.org/note": "free text: any value"}
        assert (pod.pending_timeout_seconds, pod.timeout_seconds) == (3600, 5400)
        body = build_taskrun(
            name="r",
            namespace="ns",
            task_template="t",
            image="i",
            timeout_seconds=pod.timeout_seconds,
            pending_timeout_seconds=pod.pending_timeout_seconds,
            labels=pod.labels,
            annotations=pod.annotations,
        )
        assert (body["spec"]["pendingTimeoutSeconds"], body["spec"]["timeoutSeconds"]) == (3600, 5400)
        assert body["metadata"]["labels"] == {"network-access-ctp": "true"}

    def test_timeout_seconds_wins_over_execution_timeout(self) -> None:
        pod = pod_settings(timeout_seconds=60, execution_timeout=timedelta(hours=1), source="dag")
        assert pod.timeout_seconds == 60
        # Beyond the TaskRun's 7-day bound the TaskRun has no limit; Airflow's own still applies.
        assert pod_settings(execution_timeout=timedelta(days=8), source="dag").timeout_seconds is None
        assert pod_settings(execution_timeout=timedelta(seconds=1.5), source="dag").timeout_seconds == 2

    @pytest.mark.parametrize(
        ("kwargs", "path", "message"),
        [
            ({"labels": {"network access": "true"}}, "labels.network access", "not a Kubernetes label key"),
            ({"labels": {"team": "a/b"}}, "labels.team", "not a Kubernetes label value"),
            ({"labels": {"k": "v" * 64}}, "labels.k", "not a Kubernetes label value"),
            ({"labels": {"-bad.example.org/x": "v"}}, "labels.-bad.example.org/x", "not a Kubernetes label key"),
            ({"labels": {"task-api.io/airflow-task": "x"}}, "labels.task-api.io/airflow-task", "task-api's own"),
            ({"labels": {"k": ["v"]}}, "labels.k", "values must be strings"),
            ({"labels": ["k"]}, "labels", "must be a mapping"),
            ({"annotations": {"not a key": "v"}}, "annotations.not a key", "not a Kubernetes label key"),
            ({"annotations": {"task-api.io/heartbeat": "x"}}, "annotations.task-api.io/heartbeat", "task-api's own"),
            ({"startup_timeout_seconds": 0}, "startup_timeout_seconds", "not a number of seconds"),
            ({"startup_timeout_seconds": "3600"}, "startup_timeout_seconds", "not a number of seconds"),
            ({"startup_timeout_seconds": 8 * 24 * 3600}, "startup_timeout_seconds", "not a number of seconds"),
            ({"timeout_seconds": True}, "timeout_seconds", "not a number of seconds"),
        ],
    )
    def test_what_kubernetes_would_refuse_is_refused(self, kwargs: dict[str, Any], path: str, message: str) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            pod_settings(source="KaapanaTaskOperator(task_id='t')", **kwargs)
        assert [p.path for p in caught.value.problems] == [path], str(caught.value)
        assert message in caught.value.problems[0].message

    def test_every_problem_at_once(self) -> None:
        with pytest.raises(OperatorConfigError) as caught:
            pod_settings(labels={"a b": "x", "ok": "y/z"}, startup_timeout_seconds=-1, source="dag")
        assert {p.path for p in caught.value.problems} == {"labels.a b", "labels.ok", "startup_timeout_seconds"}
