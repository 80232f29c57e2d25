"""A DAG the operator must refuse at parse time: an IOMapping whose upstream is not a TaskRun operator.

Only copied into the DAGS_FOLDER by the test that expects the import error.
"""

import os

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from task_api.airflow import IOMapping, TaskRunOperator

IMAGE = os.environ.get("TASK_API_EXAMPLE_IMAGE", "127.0.0.1:5000/examples/airflow:e2e")

with DAG("tr-broken", schedule=None) as broken_dag:
    start = EmptyOperator(task_id="start")
    TaskRunOperator(
        task_id="proc",
        image=IMAGE,
        task_template="my-algorithm",
        iochannel_maps=[IOMapping(start, "downloads", "inputs")],
    )
