"""Command-line front end (`task-api`, `python -m task_api.cli`)."""
