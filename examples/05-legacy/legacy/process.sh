#!/bin/sh
# A legacy (pre-Task-API) Kaapana processing script. It must keep working unchanged under task-api.
# For every batch element: list the files of $OPERATOR_IN_DIR, mark those of at least THRESHOLD bytes (the
# threshold is read from the run's conf.json, workflow_form.threshold), and write a summary to $OPERATOR_OUT_DIR.
set -eu

conf="$WORKFLOW_DIR/conf/conf.json"
if [ ! -f "$conf" ]; then
    echo "no $conf: this script needs the run's configuration" >&2
    exit 1
fi
# busybox has no JSON parser; conf.json is written one key per line.
threshold=$(sed -n 's/^ *"threshold": *"\{0,1\}\([0-9]*\)"\{0,1\},\{0,1\} *$/\1/p' "$conf" | head -n 1)
label=$(sed -n 's/^ *"label": *"\([^"]*\)",\{0,1\} *$/\1/p' "$conf" | head -n 1)
if [ -z "$threshold" ]; then
    echo "conf.json has no workflow_form.threshold" >&2
    exit 1
fi
echo "run $RUN_ID (dag ${DAG_ID:-?}, task ${TASK_ID:-?}): threshold $threshold, label '${label}', greeting '$GREETING'"

count=0
for element_in in "$BATCHES_INPUT_DIR"/*/"$OPERATOR_IN_DIR"; do
    [ -d "$element_in" ] || continue
    element_dir=$(dirname "$element_in")
    element=$(basename "$element_dir")
    out="$element_dir/$OPERATOR_OUT_DIR"
    mkdir -p "$out"
    : > "$out/large-files.txt"
    files=0
    for file in "$element_in"/*; do
        [ -f "$file" ] || continue
        files=$((files + 1))
        size=$(wc -c < "$file")
        if [ "$size" -ge "$threshold" ]; then
            echo "$(basename "$file") $size" >> "$out/large-files.txt"
        fi
    done
    printf 'element=%s\nfiles=%s\nthreshold=%s\nlabel=%s\ngreeting=%s\n' \
        "$element" "$files" "$threshold" "$label" "$GREETING" > "$out/summary.txt"
    echo "$element: $files file(s)"
    count=$((count + 1))
done
echo "processed $count element(s)"
