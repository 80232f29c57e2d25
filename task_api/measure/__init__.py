"""task_api.measure."""
