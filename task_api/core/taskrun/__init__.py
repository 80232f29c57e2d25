"""TaskRuns, the pure part: how a TaskRun becomes pods and a status. No I/O.

* :mod:`~task_api.core.taskrun.decide` — one reconcile pass decided: ``(run, world, policy, now) → Decision``;
* :mod:`~task_api.core.taskrun.world` — what a pass reads (:class:`World`) and the administrator's
  :class:`Policy`; :mod:`~task_api.core.taskrun.decision` — what it decides (status, actions, requeue);
* :mod:`~task_api.core.taskrun.changes` — the status patch, events and metrics derived from before/after;
* :mod:`~task_api.core.taskrun.conditions` — the ``Succeeded`` condition: reasons, reading (for every client),
  transitions;
* :mod:`~task_api.core.taskrun.observed_pods` — what a pod says about its run;
* :mod:`~task_api.core.taskrun.bindings` — channels ↔ volumes ↔ recorded locations, host-path policy;
* :mod:`~task_api.core.taskrun.run_task` — a TaskRun merged with its template;
* :mod:`~task_api.core.taskrun.memory` — sizing an attempt's memory;
* :mod:`~task_api.core.taskrun.objects` — the Secrets made for a run;
* :mod:`~task_api.core.taskrun.from_task` — task.json → TaskRun (``task-api run --mode k8s``).
"""
