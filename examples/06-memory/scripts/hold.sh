#!/bin/sh
# Holds SIZE_MIB MiB in memory (busybox tail keeps a line without newline whole), frees it, then stays alive for
# HOLD_SECONDS: the yardstick for the node agent's accuracy (bench/memory_agent.py) and its short-spike tests.
set -eu
head -c "${SIZE_MIB}m" /dev/zero | tail >/dev/null
echo "held ${SIZE_MIB} MiB"
sleep "$HOLD_SECONDS"
