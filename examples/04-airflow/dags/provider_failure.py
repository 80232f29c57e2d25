"""A TaskRun that fails, submitted with Airflow's Kubernetes provider: the sensor fails the way the TaskRun did.

The manifest replaces the template's command with one that exits 3 after saying why; the operator records reason
``Failed`` and the message "the container exited with code 3: <the log's last lines>", and ``TaskRunSensor``
raises ``TaskRunFailed`` with both (a retryable failure; an ``InvalidSpec`` run would raise ``TaskRunFailedFinal``
and use no retries). The teardown deletes the TaskRun all the same, and the DAG run fails. Environment as for
``provider_pipeline.py``.
"""

import os

from airflow.providers.cncf.kubernetes.operators.resource import (
    KubernetesCreateResourceOperator,
    KubernetesDeleteResourceOperator,
)
from airflow.sdk import DAG

from task_api.airflow import TaskRunSensor
from task_api.airflow.naming import run_name

IMAGE = os.environ.get("TASK_API_EXAMPLE_IMAGE", "127.0.0.1:5000/examples/airflow:e2e")
NAMESPACE = os.environ.get("TASK_API_NAMESPACE", "default")
PULL_SECRETS = [{"name": s.strip()} for s in os.environ.get("TASK_API_IMAGE_PULL_SECRETS", "").split(",") if s.strip()]

MANIFEST = """
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata:
  name: {{ "download" | run_name(run_id) }}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: download-from-url
  command: ["/bin/sh", "-c", "echo \\"cannot reach $URL\\" >&2; exit 3"]
"""

with DAG(
    "taskrun-provider-failure",
    schedule=None,
    tags=["task-api"],
    user_defined_filters={"run_name": run_name},
    user_defined_macros={"image": IMAGE, "pull_secrets": PULL_SECRETS},
) as dag:
    create = KubernetesCreateResourceOperator(
        task_id="create", yaml_conf=MANIFEST, custom_resource_definition=True, namespace=NAMESPACE
    )
    download = TaskRunSensor(
        task_id="download", taskrun_name='{{ "download" | run_name(run_id) }}', namespace=NAMESPACE, poke_interval=2
    )
    delete = KubernetesDeleteResourceOperator(
        task_id="delete", yaml_conf=MANIFEST, custom_resource_definition=True, namespace=NAMESPACE
    )
    create >> download >> delete.as_teardown(setups=create)
