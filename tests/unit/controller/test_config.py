"""Operator configuration from environment variables."""

from __future__ import annotations

import pytest

from task_api.controller.config import ConfigError, OperatorConfig


def test_defaults_allow_no_host_paths() -> None:
    config = OperatorConfig.from_env({})
    assert config.allowed_host_path_roots == ()
    assert config.workspace_claim == "task-api-workspace"
    assert config.max_memory_bytes == 16 * 1024**3


def test_values_are_parsed() -> None:
    config = OperatorConfig.from_env(
        {
            "TASK_API_ALLOWED_HOST_PATH_ROOTS": "/srv/data, /mnt/x/",
            "TASK_API_MAX_MEMORY": "2Gi",
            "TASK_API_INSECURE_REGISTRIES": "reg.local:5000",
            "TASK_API_WORKERS": "4",
        }
    )
    assert config.allowed_host_path_roots == ("/srv/data", "/mnt/x")
    assert config.max_memory_bytes == 2 * 1024**3
    assert config.insecure_registries == ("reg.local:5000",)
    assert config.workers == 4


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TASK_API_ALLOWED_HOST_PATH_ROOTS": "/"}, "TASK_API_ALLOWED_HOST_PATH_ROOTS"),
        ({"TASK_API_ALLOWED_HOST_PATH_ROOTS": "relative"}, "TASK_API_ALLOWED_HOST_PATH_ROOTS"),
        ({"TASK_API_ALLOWED_HOST_PATH_ROOTS": "/a/../b"}, "TASK_API_ALLOWED_HOST_PATH_ROOTS"),
        ({"TASK_API_ALLOWED_HOST_PATH_ROOTS": "/srv/a\u202eb"}, "U\\+202E"),  # check_root: printable only
        ({"TASK_API_ALLOWED_HOST_PATH_ROOTS": "/srv//x"}, "'//'"),
        ({"TASK_API_MAX_MEMORY": "lots"}, "TASK_API_MAX_MEMORY"),
        ({"TASK_API_WORKERS": "many"}, "TASK_API_WORKERS"),
    ],
)
def test_bad_values_are_refused_with_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        OperatorConfig.from_env(env)


def test_inspection_settings_are_read_with_the_workers() -> None:
    config = OperatorConfig.from_env(
        {
            "TASK_API_WORKERS": "16",
            "TASK_API_INSPECT_DEADLINE_SECONDS": "20",
            "TASK_API_EGRESS_ALLOW_PRIVATE": "127.0.0.1:5011",
            "TASK_API_INSECURE_REGISTRIES": "127.0.0.1:5011",
        }
    )
    inspection = config.inspection
    assert inspection.slots == 4  # a quarter of the workers
    assert inspection.limits.deadline_seconds == 20
    assert inspection.egress.allowed_private == ("127.0.0.1:5011",)
    assert inspection.egress.insecure_registries == ("127.0.0.1:5011",)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TASK_API_INSPECT_SLOTS": "none"}, "TASK_API_INSPECT_SLOTS"),
        ({"TASK_API_EGRESS_ALLOW_PRIVATE": "10.0.0.0/99"}, "TASK_API_EGRESS_ALLOW_PRIVATE"),
    ],
)
def test_bad_inspection_settings_are_a_config_error_naming_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        OperatorConfig.from_env(env)
