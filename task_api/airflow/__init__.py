"""task_api.airflow."""
