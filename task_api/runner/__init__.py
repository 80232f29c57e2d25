"""task_api.runner."""
