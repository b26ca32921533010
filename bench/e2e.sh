#!/usr/bin/env bash
# End-to-end benchmark: generate synthetic quantized MLPs whose witness is 1, 4, 16 GiB (more
# with --widths), commit them, and run `streamprove bench --compare` at a fixed budget, so each
# size is proven once under the budget and once unlimited in the same run.
#   bench/e2e.sh [--budget 512MiB] [--widths 4096,8192,16384] [--dir /tmp/streamprove-e2e]
set -euo pipefail
cd "$(dirname "$0")/.."
budget=512MiB widths=4096,8192,16384 dir=${TMPDIR:-/tmp}/streamprove-e2e
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --widths) widths=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--budget SIZE] [--widths W1,W2,...] [--dir DIR]" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
go build -o "$dir/streamprove" ./cmd/streamprove
sp="$dir/streamprove"
for w in ${widths//,/ }; do
  store="$dir/w$w"
  rm -rf "$store"
  "$sp" gen --store "$store" --layers 2 --width "$w" --batch 1 --seed 1 >&2
  "$sp" commit --store "$store" >/dev/null
  echo "== width $w (2 layers), budget $budget" >&2
  "$sp" bench --store "$store" --mem-budget "$budget" --compare --plot "$dir/rss-w$w.png"
  rm -rf "$store"
done
echo "plots: $dir/rss-w*.png" >&2
