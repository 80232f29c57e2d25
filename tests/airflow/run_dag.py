"""Run one DAG with real Airflow's ``dag.test()`` and write what happened as JSON (run by ``.venv-airflow``).

``python run_dag.py DAG_ID RESULT_JSON [CONF_JSON]`` — the DAG is loaded from ``$AIRFLOW__CORE__DAGS_FOLDER`` by
Airflow's DagBag (as the DAG processor would), run in this process against the migrated database of
``$AIRFLOW_HOME``, and the result file gets the run's state, each task instance's state, try number, start and end
(epoch seconds), and the XCom ``return_value`` of each task. ``python run_dag.py --import-errors RESULT_JSON``
writes the folder's import errors instead. The tests read the result file; the task logs go to this process's output.

``dag.test()`` writes the task log without Airflow's secret masking, which on a worker the task supervisor applies
(the values given to ``mask_secret`` reach it from the task process). With ``RUN_DAG_MASK_LOGS=1`` Airflow's own
masking processor (``airflow.sdk.log.mask_logs``) is put into this process's log chain, so the output shows what a
worker's task log would; without it, a test sees every value as logged (a secret that is never logged at all).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415 — after AIRFLOW_HOME is in the env

    if os.environ.get("RUN_DAG_MASK_LOGS") == "1":
        import structlog  # type: ignore[import-not-found]  # noqa: PLC0415 — only in .venv-airflow
        from airflow.sdk.log import mask_logs  # noqa: PLC0415

        processors = list(structlog.get_config()["processors"])
        # Before the renderer, as Airflow's own configuration places it.
        structlog.configure(processors=[*processors[:-1], mask_logs, processors[-1]])
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if argv[1] == "--import-errors":
        Path(argv[2]).write_text(json.dumps({"import_errors": {str(k): v for k, v in bag.import_errors.items()}}))
        return 0
    dag_id, out = argv[1], Path(argv[2])
    conf: dict[str, Any] = json.loads(argv[3]) if len(argv) > 3 else {}
    dag = bag.get_dag(dag_id)
    if dag is None:
        out.write_text(json.dumps({"error": f"no DAG {dag_id}", "import_errors": bag.import_errors}))
        return 1
    run = dag.test(run_conf=conf)

    from airflow.models.xcom import XComModel  # noqa: PLC0415
    from airflow.utils.session import create_session  # noqa: PLC0415

    tasks: dict[str, Any] = {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            tasks[ti.task_id] = {
                "state": str(ti.state),
                "try_number": ti.try_number,
                # For bench/: how long each task took as Airflow saw it (the last try).
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
        for row in session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value")):
            tasks.setdefault(row.task_id, {})["xcom"] = XComModel.deserialize_value(row)
    out.write_text(json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": tasks}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
