"""A Kaapana-style DAG the operator must refuse at parse time: pod labels Kubernetes would refuse.

Only copied into the DAGS_FOLDER by the test that expects the import error.
"""

from airflow.models import DAG

from task_api.processing_container import pc_models
from task_api_operators.KaapanaTaskOperator import KaapanaTaskOperator

with DAG("kaapana-broken", default_args={"owner": "kaapana"}) as dag:
    KaapanaTaskOperator(
        task_id="send",
        image="127.0.0.1:5000/kaapana/dummy:e2e",
        taskTemplate="upstream",
        env=[pc_models.BaseEnv(name="TIME_SLEEP", value="0")],
        labels={"network access": "true", "tier": "not/allowed"},
        startup_timeout_seconds=0,
    )
