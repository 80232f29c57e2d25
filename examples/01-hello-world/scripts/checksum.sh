#!/bin/sh
# Write a checksum of every file under the input channel to the output channel.
# Runs under busybox sh in a FROM-scratch image (no /tmp); ALGORITHM is one of the template's choices.
set -eu
out=/data/out/checksums.${ALGORITHM}
cd /data/in
# `find | sort` gives a stable order; `read -r` keeps names with spaces intact.
find . -type f | sort | while IFS= read -r f; do
    "${ALGORITHM}sum" "$f"
done > "$out"
count=$(wc -l < "$out")
echo "${GREETING}: ${ALGORITHM} of ${count} file(s) written to ${out}"
