"""The guide's download -> process steps as TaskRun manifests, submitted with Airflow's own Kubernetes provider.

No task-api operator here: ``KubernetesCreateResourceOperator`` creates two TaskRuns from a YAML manifest templated
with the run's id and conf (the second reads the first's output channel with ``fromTaskRun``), one
``TaskRunSensor`` per TaskRun waits for it — copying its pod log into the task log and pushing its outputs to XCom
— and ``KubernetesDeleteResourceOperator``, as the DAG's teardown, deletes both whatever happened (their pods go
with them; what they wrote stays on the workspace claim).

Set ``TASK_API_EXAMPLE_IMAGE`` (examples/04-airflow/build.sh's image where the cluster pulls it),
``TASK_API_NAMESPACE`` (a namespace with the workspace claim) and ``TASK_API_IMAGE_PULL_SECRETS``; the provider
finds the cluster as the task-api operators do (``KUBECONFIG``, in-cluster) unless a ``kubernetes_default``
connection says otherwise. Try a run with ``{"message": "hi", "lines": 3, "mode": "copy"}``.
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

# Jinja, rendered per task instance. `run_name` gives one DNS name per DAG run, so create, wait and delete agree.
DOWNLOAD = '{{ "download" | run_name(run_id) }}'
PROCESS = '{{ "process" | run_name(run_id) }}'
MANIFESTS = """
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata:
  name: {{ "download" | run_name(run_id) }}
  labels: {app.kubernetes.io/part-of: "{{ dag.dag_id }}"}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: download-from-url
  env:
    - {name: MESSAGE, value: {{ dag_run.conf.get("message", "hello") | tojson }}}
    - {name: LINES, value: "{{ dag_run.conf.get("lines", 2) }}"}
---
apiVersion: task-api.io/v1alpha1
kind: TaskRun
metadata:
  name: {{ "process" | run_name(run_id) }}
  labels: {app.kubernetes.io/part-of: "{{ dag.dag_id }}"}
spec:
  image: {{ image }}
  imagePullSecrets: {{ pull_secrets | tojson }}
  taskTemplate: my-algorithm
  inputs:
    - {name: inputs, fromTaskRun: {name: {{ "download" | run_name(run_id) }}, output: downloads}}
  env:
    - {name: MODE, value: {{ dag_run.conf.get("mode", "upper") | tojson }}}
"""

with DAG(
    "taskrun-provider-pipeline",
    schedule=None,
    tags=["task-api"],
    user_defined_filters={"run_name": run_name},
    user_defined_macros={"image": IMAGE, "pull_secrets": PULL_SECRETS},
) as dag:
    create = KubernetesCreateResourceOperator(
        task_id="create", yaml_conf=MANIFESTS, custom_resource_definition=True, namespace=NAMESPACE
    )
    download = TaskRunSensor(task_id="download", taskrun_name=DOWNLOAD, namespace=NAMESPACE, poke_interval=2)
    process = TaskRunSensor(
        task_id="process", taskrun_name=PROCESS, namespace=NAMESPACE, poke_interval=2, deferrable=True
    )
    delete = KubernetesDeleteResourceOperator(
        task_id="delete", yaml_conf=MANIFESTS, custom_resource_definition=True, namespace=NAMESPACE
    )
    create >> download >> process >> delete.as_teardown(setups=create)
