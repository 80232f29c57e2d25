#!/usr/bin/env bash
# Write the example's inputs: `./make-inputs.sh DIR [MIB...]` makes DIR/s<N>/ holding N MiB of text in four files,
# for each N (default 1 2 4 8 16 32). The text is base64 of random bytes, so nothing compresses it away.
set -euo pipefail
dir=${1:?usage: make-inputs.sh DIR [MIB...]}
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 2 4 8 16 32)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "make-inputs.sh: '$n' is not a whole number of MiB" >&2; exit 2; }
  mkdir -p "$dir/s$n"
  for i in 1 2 3 4; do
    # A quarter of N MiB each; base64 makes 4 output bytes of 3 input bytes, lines of 76 characters.
    head -c $((n * 1024 * 1024 / 4 * 3 / 4)) /dev/urandom | base64 >"$dir/s$n/part-$i.txt"
  done
done
