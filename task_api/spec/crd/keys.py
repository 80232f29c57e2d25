"""The names the operator and its clients agree on: labels, annotations and condition types. Pure.

One home for each spelling, so the operator, the CLI and the Airflow operator cannot drift apart.
"""

from __future__ import annotations

# -- labels on everything the operator creates --------------------------------------------------------------------

#: ``app.kubernetes.io/managed-by``: the operator watches only pods with this label (and the admission policy in
#: manifests/ lets its ServiceAccount create only such pods).
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
#: The value of :data:`LABEL_MANAGED_BY` on the operator's objects.
MANAGER = "task-api-operator"
#: The TaskRun's name (cut to a valid label value, see ``task_api.core.names.label_value``).
LABEL_TASKRUN = "task-api.io/taskrun"
#: The TaskRun's uid: what a label selector uses to find all of one run's pods.
LABEL_TASKRUN_UID = "task-api.io/taskrun-uid"
#: The attempt number of a task pod.
LABEL_ATTEMPT = "task-api.io/attempt"
#: What a pod does for its run: :data:`ROLE_TASK` or :data:`ROLE_MEASURE`.
LABEL_ROLE = "task-api.io/role"
ROLE_TASK = "task"
ROLE_MEASURE = "measure"

#: On a Secret: its owner lets TaskRuns name it in ``registryCredentialsSecret`` (value :data:`OPT_IN`). Without it
#: the operator refuses the Secret — a namespace's other basic-auth Secrets (a database login) are not sent to the
#: registry a TaskRun's author chose.
LABEL_REGISTRY_CREDENTIALS = "task-api.io/registry-credentials"
OPT_IN = "true"

# -- annotations --------------------------------------------------------------------------------------------------

#: On a TaskRun: an RFC 3339 time its client refreshes while it waits (``spec.heartbeatTimeoutSeconds``).
ANNOTATION_HEARTBEAT = "task-api.io/heartbeat"
#: On a task pod: the template it runs.
ANNOTATION_TEMPLATE = "task-api.io/template"
#: On a task pod of a legacy (pre-Task-API) image: the legacy layout's mode.
ANNOTATION_LEGACY = "task-api.io/legacy"
#: Prefixes of TaskRun annotations never copied to its pods: kubectl's bookkeeping and the operator's own keys.
NOT_PROPAGATED_ANNOTATION_PREFIXES = ("kubectl.kubernetes.io/", "task-api.io/")

# -- condition types ----------------------------------------------------------------------------------------------

#: A TaskRun's one condition that tells the whole story (Unknown while under way, True or False at the end).
CONDITION_SUCCEEDED = "Succeeded"
#: A ProcessingContainer's condition: its templates are known.
CONDITION_READY = "Ready"
#: kstatus' "abnormal-true" conditions (Flux, kpt): derived from the two above, never decided separately.
CONDITION_RECONCILING = "Reconciling"
CONDITION_STALLED = "Stalled"
