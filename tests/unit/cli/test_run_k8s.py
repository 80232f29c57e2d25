"""Exit codes of `task-api run --mode k8s` from the finished TaskRun."""

from __future__ import annotations

import pytest

from task_api.cli.run_k8s import exit_code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ({"reason": "Succeeded", "exitCode": 0}, 0),
        ({"reason": "Failed", "exitCode": 3}, 3),
        ({"reason": "OOMKilled", "exitCode": 0}, 137),
        ({"reason": "InvalidSpec"}, 1),
        ({"reason": "TimedOut", "exitCode": 143}, 143),
        ({"reason": "Failed", "exitCode": 300}, 1),
    ],
)
def test_exit_code(status: dict[str, object], code: int) -> None:
    reason = status["reason"]
    condition = {"type": "Succeeded", "status": "True" if reason == "Succeeded" else "False", "reason": reason}
    assert exit_code({"status": {**status, "conditions": [condition]}}) == code
