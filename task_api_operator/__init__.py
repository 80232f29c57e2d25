"""Compatibility with the original Task API guide's import path.

``from task_api_operator.KaapanaTaskOperator import KaapanaTaskOperator, IOMapping`` works as the guide writes it;
the operator is :class:`task_api.airflow.kaapana.KaapanaTaskOperator`, the same class Kaapana's own import path
``task_api_operators`` (plural) gives.
"""
