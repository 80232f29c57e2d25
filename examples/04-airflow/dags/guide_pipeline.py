# ruff: noqa: I001 — the imports stay in the order the guide writes them
# The original Task API guide's three-task DAG (download -> process -> upload), as the guide writes it.
# Changed: the image names (one example image, examples/04-airflow/build.sh, carries all three templates), and
# the guide's `upstream_operator=task1` / `task2`, names the guide never defines, are the operators it means.
from airflow.models import DAG
from task_api_operator.KaapanaTaskOperator import KaapanaTaskOperator, IOMapping
from kaapana.blueprints.kaapana_global_variables import (
    DEFAULT_REGISTRY,
    KAAPANA_BUILD_VERSION,
)

args = {
    "ui_visible": True,
    "owner": "kaapana",
}

with DAG("test-task-operator", default_args=args) as dag:
    download = KaapanaTaskOperator(
        task_id="get-data",
        image=f"{DEFAULT_REGISTRY}/airflow:{KAAPANA_BUILD_VERSION}",
        taskTemplate="download-from-url",
    )

    processing = KaapanaTaskOperator(
        task_id="process-data",
        image=f"{DEFAULT_REGISTRY}/airflow:{KAAPANA_BUILD_VERSION}",
        taskTemplate="my-algorithm",
        iochannel_maps=[
            IOMapping(
                upstream_operator=download,
                upstream_output_channel="downloads",
                input_channel="inputs",
            )
        ],
    )

    upload = KaapanaTaskOperator(
        task_id="upload-data",
        image=f"{DEFAULT_REGISTRY}/airflow:{KAAPANA_BUILD_VERSION}",
        taskTemplate="send-to-minio",
        iochannel_maps=[
            IOMapping(
                upstream_operator=processing,
                upstream_output_channel="results",
                input_channel="inputs",
            )
        ],
    )

download >> processing >> upload
