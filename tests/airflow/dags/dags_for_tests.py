"""DAGs for tests/airflow (copied into a temporary DAGS_FOLDER with examples/04-airflow/dags).

The image comes from ``TASK_API_EXAMPLE_IMAGE`` (the example image the tests push to the test bed registry).
"""

import os
from datetime import timedelta

from airflow.sdk import DAG

from task_api.airflow import IOMapping, TaskRunOperator

IMAGE = os.environ.get("TASK_API_EXAMPLE_IMAGE", "127.0.0.1:5000/examples/airflow:e2e")

# A task whose container exits 1: the Airflow task fails with the TaskRun's reason; its downstream does not run.
with DAG("tr-fail", schedule=None) as fail_dag:
    get = TaskRunOperator(task_id="get", image=IMAGE, task_template="download-from-url")
    crash = TaskRunOperator(
        task_id="crash",
        image=IMAGE,
        task_template="my-algorithm",
        env={"FAIL": "true"},
        iochannel_maps=[IOMapping(get, "downloads", "inputs")],
        retries=1,  # Airflow's: the second try must be a new TaskRun
        retry_delay=timedelta(seconds=0),
    )
    after = TaskRunOperator(
        task_id="after",
        image=IMAGE,
        task_template="send-to-minio",
        iochannel_maps=[IOMapping(crash, "results", "inputs")],
    )
    get >> crash >> after

# Deferred waiting: both tasks hand their wait to TaskRunTrigger.
with DAG("tr-deferred", schedule=None) as deferred_dag:
    d_get = TaskRunOperator(task_id="get", image=IMAGE, task_template="download-from-url", deferrable=True)
    d_proc = TaskRunOperator(
        task_id="proc",
        image=IMAGE,
        task_template="my-algorithm",
        deferrable=True,
        iochannel_maps=[IOMapping(d_get, "downloads", "inputs")],
    )
    d_get >> d_proc

# A long task to kill: SLEEP comes from the run's conf. A short heartbeat timeout, so a SIGKILLed task's run is
# cancelled within seconds rather than the default 90.
with DAG("tr-slow", schedule=None) as slow_dag:
    s_get = TaskRunOperator(task_id="get", image=IMAGE, task_template="download-from-url")
    s_proc = TaskRunOperator(
        task_id="proc",
        image=IMAGE,
        task_template="my-algorithm",
        iochannel_maps=[IOMapping(s_get, "downloads", "inputs")],
        heartbeat_timeout=15,
    )
    s_get >> s_proc

# Registry credentials given to the operator (the guide's registryUsername/registryPassword), no pull secret.
with DAG("tr-credentials", schedule=None) as credentials_dag:
    TaskRunOperator(
        task_id="get",
        image=IMAGE,
        taskTemplate="download-from-url",
        registryUrl=IMAGE.split("/", 1)[0],
        registryUsername=os.environ.get("TEST_REGISTRY_USER", "user"),
        registryPassword=os.environ.get("TEST_REGISTRY_PASSWORD", "password"),
        image_pull_secrets=[],
    )

# A secret env value (templated from an Airflow Variable, AIRFLOW_VAR_TR_MESSAGE, whose name Airflow does not
# mask by itself): the container writes its digest to its output, and prints it, which the task log must mask.
with DAG("tr-secret-env", schedule=None) as secret_env_dag:
    TaskRunOperator(
        task_id="get",
        image=IMAGE,
        task_template="download-from-url",
        env={"LINES": "1"},
        secret_env={"MESSAGE": "{{ var.value.tr_message }}"},
        command=[
            "/bin/sh",
            "-c",
            'printf %s "$MESSAGE" | sha256sum | cut -d" " -f1 > /data/downloads/digest.txt'
            ' && echo "the message is $MESSAGE."',
        ],
    )

# A container that runs past its TaskRun's timeout.
with DAG("tr-timeout", schedule=None) as timeout_dag:
    t_get = TaskRunOperator(task_id="get", image=IMAGE, task_template="download-from-url")
    t_slow = TaskRunOperator(
        task_id="slow",
        image=IMAGE,
        task_template="my-algorithm",
        env={"SLEEP": "60"},
        timeout_seconds=3,
        iochannel_maps=[IOMapping(t_get, "downloads", "inputs")],
    )
    # The IOMapping reads get's XCom: get must run first (without this edge the order was luck).
    t_get >> t_slow
