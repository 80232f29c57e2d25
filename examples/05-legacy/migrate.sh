#!/usr/bin/env bash
# The migration: `task-api legacy init` writes processing-container.json for the unchanged legacy image from what
# its author knows about it. A test checks that the committed processing-container.json is exactly this output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
task_api="${TASK_API:-task-api}"
$task_api legacy init \
    --name legacy-example \
    --description "Mark the large files of each batch element (a legacy Kaapana script, migrated)" \
    --in-dir dcm-converter \
    --out-dir large-files \
    --mode per-element \
    --stage copy \
    --env GREETING=hello \
    --describe "GREETING=printed into each summary" \
    --form THRESHOLD=10 \
    --describe "THRESHOLD=files of at least this many bytes are listed" \
    --conf "$here/conf.json" \
    --dag-id legacy-example-dag \
    --task-id large-files \
    --output-file "${1:-$here/processing-container.json}" --force
