"""task_api.image."""
