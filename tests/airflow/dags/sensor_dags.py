"""DAGs for TaskRunSensor tests (copied into the DAGS_FOLDER with the examples): TaskRuns made by the provider.

``sensor-modes``: one TaskRun, waited for by three sensors at once — poke, reschedule and deferrable — each of
which must push the same outputs. ``sensor-split``: a TaskRun that fails (retryable: the sensor uses its retry), one
the operator refuses as InvalidSpec (final: no retry), and a sensor for a TaskRun nobody made.
"""

import os
from datetime import timedelta
from typing import Any

from airflow.providers.cncf.kubernetes.operators.resource import KubernetesCreateResourceOperator
from airflow.sdk import DAG

from task_api.airflow import TaskRunSensor
from task_api.airflow.naming import run_name

IMAGE = os.environ.get("TASK_API_EXAMPLE_IMAGE", "127.0.0.1:5000/examples/airflow:e2e")
NAMESPACE = os.environ.get("TASK_API_NAMESPACE", "default")
PULL_SECRETS = [{"name": s.strip()} for s in os.environ.get("TASK_API_IMAGE_PULL_SECRETS", "").split(",") if s.strip()]
MACROS = {"image": IMAGE, "pull_secrets": PULL_SECRETS}


SLOW = """
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata: {name: 'NAME'}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: download-from-url
  command: ["/bin/sh", "-c", "sleep 3; /bin/sh /opt/guide/download.sh"]
  env: [{name: MESSAGE, value: {{ dag_run.conf.get("message", "hello") | tojson }}}]
"""


def slow(key: str) -> tuple[str, str]:
    """A TaskRun that sleeps 3 s before its download, named per DAG run: (its name's Jinja, its manifest)."""
    name = '{{ "KEY" | run_name(run_id) }}'.replace("KEY", key)
    return name, SLOW.replace("NAME", name)


# dag.test() runs one task at a time, so each sensor gets a TaskRun of its own, created just before it: none of
# them finds its run finished, and each waits its own way.
with DAG(
    "sensor-modes", schedule=None, user_defined_filters={"run_name": run_name}, user_defined_macros=MACROS
) as modes_dag:
    previous = None
    for mode in ("poke", "reschedule", "deferred"):
        name, manifest = slow(mode)
        create = KubernetesCreateResourceOperator(
            task_id=f"create-{mode}", yaml_conf=manifest, custom_resource_definition=True, namespace=NAMESPACE
        )
        sensor = TaskRunSensor(
            task_id=mode,
            taskrun_name=name,
            poke_interval=1,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferred",
        )
        if previous is not None:
            previous >> create
        create >> sensor
        previous = sensor

FAILING = """
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata: {name: '{{ "crash" | run_name(run_id) }}'}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: download-from-url
  command: ["/bin/sh", "-c", "echo crashing on purpose >&2; exit 4"]
---
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata: {name: '{{ "invalid" | run_name(run_id) }}'}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: download-from-url
  env: [{name: LINES, value: "7"}]
"""

with DAG(
    "sensor-split", schedule=None, user_defined_filters={"run_name": run_name}, user_defined_macros=MACROS
) as split_dag:
    create = KubernetesCreateResourceOperator(
        task_id="create", yaml_conf=FAILING, custom_resource_definition=True, namespace=NAMESPACE
    )
    retry: dict[str, Any] = {"retries": 1, "retry_delay": timedelta(seconds=0), "poke_interval": 1}
    create >> [
        TaskRunSensor(task_id="crash", taskrun_name='{{ "crash" | run_name(run_id) }}', **retry),
        TaskRunSensor(task_id="invalid", taskrun_name='{{ "invalid" | run_name(run_id) }}', deferrable=True, **retry),
        TaskRunSensor(task_id="missing", taskrun_name="nobody-made-this", **retry),
    ]
