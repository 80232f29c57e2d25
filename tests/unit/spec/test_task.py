"""task.json: bindings, configs, placeholders, and secrets that never leak."""

from __future__ import annotations

import json
from typing import Any

import pytest

from task_api.spec import DockerConfig, K8sConfig, SpecError, Task, TaskTemplate
from task_api.spec.load import parse_task
from tests.unit.spec.helpers import by_path, minimal_pc, minimal_task, pc_problems, task_problems


def parse(document: dict[str, Any] | str, environ: dict[str, str] | None = None) -> Task:
    text = document if isinstance(document, str) else json.dumps(document)
    return parse_task(text, source="task.json", environ=environ or {})


class TestAccepted:
    def test_minimal_task(self) -> None:
        task = parse(minimal_task())
        assert task.template_identifier == "main"
        assert task.inputs[0].volume_source.kind == "host_path"
        assert task.config is None

    def test_inline_template(self) -> None:
        task = parse(minimal_task(taskTemplate=minimal_pc()["templates"][0]))
        assert isinstance(task.taskTemplate, TaskTemplate)
        assert task.template_identifier == "main"

    def test_pvc_and_nfs_sources(self) -> None:
        task = parse(
            minimal_task(
                inputs=[
                    {"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "data"}, "subPath": "a/b"}}
                ],
                outputs=[{"name": "out", "volume_source": {"nfs": {"server": "nfs.local", "path": "/exports"}}}],
            )
        )
        assert task.inputs[0].volume_source.kind == "persistentVolumeClaim"
        assert task.inputs[0].volume_source.subPath == "a/b"
        assert task.outputs[0].volume_source.describe() == "NFS nfs.local:/exports"

    def test_docker_and_k8s_configs(self) -> None:
        docker = parse(minimal_task(config={"type": "docker", "labels": {"a": 1}})).config
        assert isinstance(docker, DockerConfig) and docker.labels == {"a": "1"}
        k8s = parse(
            minimal_task(
                config={
                    "type": "k8s",
                    "namespace": "team-a",
                    "registryUrl": "localhost:5000",
                    "registryUsername": "u",
                    "registryPassword": "s3cret",
                    "imagePullSecrets": ["regcred"],
                    "labels": {"app.kubernetes.io/name": "x"},
                    "annotations": {"example.com/note": "free text"},
                }
            )
        ).config
        assert isinstance(k8s, K8sConfig)
        assert k8s.registryPassword is not None and k8s.registryPassword.get_secret_value() == "s3cret"
        assert "s3cret" not in repr(k8s)
        assert "s3cret" not in str(k8s.model_dump())

    def test_env_values_may_be_json_scalars(self) -> None:
        task = parse(minimal_task(env=[{"name": "N", "value": 0}, {"name": "B", "value": False}]))
        assert [(e.name, e.value) for e in task.env] == [("N", "0"), ("B", "false")]

    def test_placeholders_are_filled_from_the_environment(self) -> None:
        document = minimal_task(
            image="{{ env.registryUrl }}/dummy:latest",
            inputs=[{"name": "in", "volume_source": {"host_path": "{{env.output_dir}}/in"}}],
        )
        task = parse(document, {"registryUrl": "localhost:5000", "output_dir": "/tmp/o"})
        assert task.image == "localhost:5000/dummy:latest"
        assert task.inputs[0].volume_source.host_path == "/tmp/o/in"

    def test_placeholder_values_cannot_inject_json(self) -> None:
        # Filling happens after parsing, inside string values only: quotes in a value stay text.
        task = parse(minimal_task(name="{{ env.N }}"), {"N": '", "image": "evil'})
        assert task.name == '", "image": "evil'
        assert task.image == "localhost:5000/x:1"


REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing image", {k: v for k, v in minimal_task().items() if k != "image"}, "image", "required"),
    ("image with spaces", minimal_task(image="a b"), "image", "whitespace"),
    ("unknown key", minimal_task(imgae="x"), "imgae", "did you mean 'image'"),
    (
        "two volume kinds",
        minimal_task(
            inputs=[{"name": "in", "volume_source": {"host_path": "/a", "nfs": {"server": "s", "path": "/p"}}}]
        ),
        "inputs[0].volume_source",
        "exactly one kind",
    ),
    (
        "no volume kind",
        minimal_task(inputs=[{"name": "in", "volume_source": {}}]),
        "inputs[0].volume_source",
        "exactly one kind",
    ),
    (
        "subPath with host_path",
        minimal_task(inputs=[{"name": "in", "volume_source": {"host_path": "/a", "subPath": "b"}}]),
        "inputs[0].volume_source.subPath",
        "extend host_path",
    ),
    (
        "bad claim name",
        minimal_task(inputs=[{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "Data_1"}}}]),
        "inputs[0].volume_source.persistentVolumeClaim.claimName",
        "DNS subdomain",
    ),
    (
        "escaping subPath",
        minimal_task(
            inputs=[{"name": "in", "volume_source": {"persistentVolumeClaim": {"claimName": "d"}, "subPath": "../x"}}]
        ),
        "inputs[0].volume_source.subPath",
        "'..'",
    ),
    (
        "output bound twice",
        minimal_task(outputs=[{"name": "out", "volume_source": {"host_path": "/a"}}] * 2),
        "outputs[1].name",
        "duplicate output binding",
    ),
    (
        "input bound twice",
        minimal_task(inputs=[{"name": "in", "volume_source": {"host_path": "/a"}}] * 2),
        "inputs[1].name",
        "duplicate input binding",
    ),
    (
        "duplicate env",
        minimal_task(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
        "env[1].name",
        "duplicate",
    ),
    ("config without type", minimal_task(config={"namespace": "x"}), "config.type", "required"),
    ("unknown config type", minimal_task(config={"type": "slurm"}), "config", "unknown config type"),
    (
        "docker config with k8s key",
        minimal_task(config={"type": "docker", "namespace": "x"}),
        "config.namespace",
        "unknown field",
    ),
    ("bad namespace", minimal_task(config={"type": "k8s", "namespace": "Team_A"}), "config.namespace", "DNS label"),
    (
        "bad label value",
        minimal_task(config={"type": "k8s", "labels": {"a": "has space"}}),
        "config.labels.a",
        "label value",
    ),
    (
        "bad pull policy",
        minimal_task(config={"type": "k8s", "imagePullPolicy": "always"}),
        "config.imagePullPolicy",
        "not an allowed value",
    ),
    (
        "password without user",
        minimal_task(config={"type": "k8s", "registryPassword": "p"}),
        "config.registryUsername",
        "go together",
    ),
    ("api_version 3", minimal_task(api_version=3), "api_version", "unsupported"),
]


@pytest.mark.parametrize(("document", "path", "message"), [pytest.param(d, p, m, id=c) for c, d, p, m in REFUSED])
def test_refused_with_a_located_problem(document: dict[str, Any], path: str, message: str) -> None:
    problems = by_path(task_problems(document))
    assert path in problems, f"expected a problem at {path}, got {list(problems)}"
    assert message in problems[path].message
    assert problems[path].line is not None


class TestPlaceholders:
    def test_unset_variable_is_named_with_its_position(self) -> None:
        text = '{"name": "t",\n "image": "{{ env.registryUrl }}/x",\n "taskTemplate": "main"}'
        problems = task_problems(text, environ={})
        (problem,) = problems
        assert problem.path == "image"
        assert problem.message == "environment variable registryUrl is not set"
        assert (problem.line, problem.column) == (2, 11)

    def test_every_unset_variable_is_reported(self) -> None:
        document = minimal_task(name="{{ env.A }}", image="{{ env.B }}/{{ env.C }}")
        messages = {p.message for p in task_problems(document)}
        assert messages == {f"environment variable {n} is not set" for n in "ABC"}

    def test_other_template_syntax_is_refused(self) -> None:
        (problem,) = task_problems(minimal_task(name="{{ custom.x }}"))
        assert problem.message == "unsupported placeholder"
        assert problem.allowed == "{{ env.NAME }}"

    def test_empty_variable_is_allowed_when_set(self) -> None:
        assert parse(minimal_task(name="n{{ env.E }}"), {"E": ""}).name == "n"


class TestSecrets:
    SECRET = "hunter2-very-secret"

    def test_password_never_in_error_messages(self) -> None:
        document = minimal_task(config={"type": "k8s", "registryPassword": self.SECRET, "namespace": "BAD NS"})
        with pytest.raises(SpecError) as caught:
            parse(document)
        assert self.SECRET not in str(caught.value)
        assert self.SECRET not in repr(caught.value.problems)

    def test_password_of_wrong_type_is_redacted(self) -> None:
        document = minimal_task(config={"type": "k8s", "registryUsername": "u", "registryPassword": 123456789})
        problems = by_path(task_problems(document))
        assert problems["config.registryPassword"].given == "<redacted>"
        assert "123456789" not in str(problems)

    def test_password_filled_from_environment_never_in_messages(self) -> None:
        document = minimal_task(
            config={"type": "k8s", "registryUsername": "u", "registryPassword": "{{ env.PW }}", "namespace": "x y"}
        )
        with pytest.raises(SpecError) as caught:
            parse(document, {"PW": self.SECRET})
        assert self.SECRET not in str(caught.value)

    def test_secret_looking_env_values_are_redacted(self) -> None:
        pc = minimal_pc(env=[{"name": "API_TOKEN", "value": self.SECRET, "type": "int"}])
        problems = by_path(pc_problems(pc))
        assert problems["templates[0].env[0].value"].given == "<redacted>"
