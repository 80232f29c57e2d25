"""The node agent: records the peak memory of every task pod attempt on its node (a front end; docs/memory.md).

Run as a DaemonSet from the operator's image (``python -m task_api.agent``). It watches the task pods on its own
node (a field selector on ``spec.nodeName``), reads their memory cgroups' high-water marks from a read-only host
mount of ``/sys/fs/cgroup`` every ``TASK_API_AGENT_INTERVAL`` seconds, and once an attempt has ended writes its peak
into the TaskRun's ``status.memory.peaks`` — its only write. It needs neither ``nodes/proxy`` nor ``pods/exec``.
"""
