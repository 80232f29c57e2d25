"""A DAG written the way Kaapana's 0.6 DAGs are: every KaapanaTaskOperator argument they use.

``task_api_operators`` (Kaapana's import path), ``pc_models`` env entries and resources, pod ``labels`` and
``annotations``, ``startup_timeout_seconds``, ``execution_timeout``, Airflow's ``retries``; the downstream task
reads the upstream's channels crossed over (channel1 <- channel2 and back), so a wrong mapping shows. The image is
Kaapana's dummy workflow image (``tests/fixtures/kaapana.py``), named as Kaapana's DAGs name it.
"""

from datetime import timedelta

from airflow.models import DAG
from kaapana.blueprints.kaapana_global_variables import DEFAULT_REGISTRY, KAAPANA_BUILD_VERSION

from task_api.processing_container import pc_models
from task_api_operators.KaapanaTaskOperator import IOMapping, KaapanaTaskOperator

args = {"ui_visible": True, "owner": "kaapana"}

with DAG("kaapana-arguments", default_args=args) as dag:
    upstream = KaapanaTaskOperator(
        task_id="upstream",
        image=f"{DEFAULT_REGISTRY}/dummy:{KAAPANA_BUILD_VERSION}",
        taskTemplate="upstream",
        env=[pc_models.BaseEnv(name="TIME_SLEEP", value="0"), {"name": "DUMMY", "value": "dummy"}],
        resources=pc_models.Resources(limits={"memory": "64Mi", "cpu": None}, requests={"memory": "16Mi"}),
        labels={"network-access-ctp": "true"},
        annotations={"example.org/owner": "kaapana-dags"},
        startup_timeout_seconds=600,
        execution_timeout=timedelta(minutes=10),
        retries=0,
    )

    downstream = KaapanaTaskOperator(
        task_id="downstream",
        image=f"{DEFAULT_REGISTRY}/dummy:{KAAPANA_BUILD_VERSION}",
        taskTemplate="downstream",
        command=["python3", "-u", "downstream.py"],
        env=[pc_models.BaseEnv(name="TIME_SLEEP", value=0)],
        iochannel_maps=[
            IOMapping(upstream_operator=upstream, upstream_output_channel="channel2", input_channel="channel1"),
            IOMapping(upstream_operator=upstream, upstream_output_channel="channel1", input_channel="channel2"),
        ],
    )

    upstream >> downstream
