"""task_api.spec."""
