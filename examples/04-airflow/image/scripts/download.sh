#!/bin/sh
# Stand-in for a download (no network here): write MESSAGE, LINES times, and where it "came from".
set -eu
i=0
: > /data/downloads/data.txt
while [ "$i" -lt "$LINES" ]; do
    echo "${MESSAGE} from ${URL}" >> /data/downloads/data.txt
    i=$((i + 1))
done
echo "downloaded $(wc -l < /data/downloads/data.txt) line(s): ${MESSAGE}"
