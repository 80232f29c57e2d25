"""The guide's download -> process -> upload pipeline written with ``task_api.airflow`` (snake_case arguments).

The image is ``examples/04-airflow/build.sh``'s, pushed where the cluster pulls from; set ``TASK_API_EXAMPLE_IMAGE``
to its reference. Configure a run with its conf, e.g. ``{"task_form": {"download": {"env": {"MESSAGE": "hi"}}}}``.
"""

import os

from airflow.sdk import DAG

from task_api.airflow import IOMapping, TaskRunOperator

IMAGE = os.environ.get("TASK_API_EXAMPLE_IMAGE", "127.0.0.1:5000/examples/airflow:e2e")

with DAG("task-api-pipeline", schedule=None, tags=["task-api"]) as dag:
    download = TaskRunOperator(task_id="download", image=IMAGE, task_template="download-from-url")
    process = TaskRunOperator(
        task_id="process",
        image=IMAGE,
        task_template="my-algorithm",
        env={"MODE": "upper"},
        iochannel_maps=[IOMapping(download, "downloads", "inputs")],
    )
    upload = TaskRunOperator(
        task_id="upload",
        image=IMAGE,
        task_template="send-to-minio",
        iochannel_maps=[IOMapping(process, "results", "inputs")],
        deferrable=True,  # waits in the triggerer, not in a worker slot
    )
    download >> process >> upload
