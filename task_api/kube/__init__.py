"""task_api.kube."""
