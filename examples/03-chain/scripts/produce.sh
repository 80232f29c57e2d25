#!/bin/sh
# First step: start the record.
set -eu
echo "produce ${TOKEN}" > /chain/out/record.txt
echo "produced record with ${TOKEN}"
