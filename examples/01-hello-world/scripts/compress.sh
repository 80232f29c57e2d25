#!/bin/sh
# Pack the whole input channel into one gzip-compressed tar archive in the output channel.
set -eu
cd /data/in
tar -cf - . | gzip "-${LEVEL}" > "/data/out/${ARCHIVE_NAME}"
size=$(wc -c < "/data/out/${ARCHIVE_NAME}")
echo "compressed $(find . -type f | wc -l) file(s) into ${ARCHIVE_NAME} (${size} bytes, level ${LEVEL})"
