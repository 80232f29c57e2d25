#!/bin/sh
# Last step: the record must hold the first step's line and one line per step.
set -eu
lines=$(wc -l < /chain/in/record.txt)
first=$(head -n 1 /chain/in/record.txt)
{
  echo "lines: ${lines}"
  echo "first: ${first}"
} > /chain/report/report.txt
cat /chain/report/report.txt
[ "${lines}" -eq "${EXPECT_LINES}" ] || { echo "expected ${EXPECT_LINES} lines" >&2; exit 4; }
