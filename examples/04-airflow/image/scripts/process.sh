#!/bin/sh
# Process every input file into the results channel (upper-case or copy).
set -eu
[ "${SLEEP}" -gt 0 ] && { echo "sleeping ${SLEEP} s"; sleep "${SLEEP}"; }
[ "${FAIL}" = "true" ] && { echo "failing on purpose (FAIL=true)" >&2; exit 1; }
cd /data/inputs
for f in *; do
    if [ "${MODE}" = "upper" ]; then tr 'a-z' 'A-Z' < "$f" > "/data/results/$f"; else cp "$f" "/data/results/$f"; fi
done
echo "processed $(ls | wc -l) file(s) with MODE=${MODE}"
