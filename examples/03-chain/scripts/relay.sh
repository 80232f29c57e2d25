#!/bin/sh
# Middle step: the input is read-only, so copy it to the output and append to the copy.
set -eu
cp /chain/in/record.txt /chain/out/record.txt
echo "${STEP} $(wc -l < /chain/in/record.txt)" >> /chain/out/record.txt
# Prove the input channel is read-only: writing to it must fail.
if echo tamper >> /chain/in/record.txt 2>/dev/null; then echo "input was writable" >&2; exit 3; fi
echo "relayed $(wc -l < /chain/out/record.txt) line(s)"
