#!/bin/sh
# Stand-in for an upload to Minio: print every file into the log and copy it to the bucket channel.
set -eu
mkdir -p "/data/bucket/${BUCKET}"
for f in /data/inputs/*; do
    echo "uploading $(basename "$f") to bucket ${BUCKET}:"
    cat "$f"
    cp "$f" "/data/bucket/${BUCKET}/"
done
