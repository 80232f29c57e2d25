"""Kaapana's import path for its Airflow operator (plural: the folder its workflow service stages it in).

``from task_api_operators.KaapanaTaskOperator import KaapanaTaskOperator, IOMapping`` works as Kaapana's DAGs write
it; the class is :class:`task_api.airflow.kaapana.KaapanaTaskOperator`, the same one the guide's singular
``task_api_operator`` path gives.
"""
