"""task_api.core."""
