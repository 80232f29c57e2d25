"""task_api.controller."""
