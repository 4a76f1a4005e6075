#!/usr/bin/env bash
# Build benchmark on generated libraries (release build). Prints medians of several runs.
#
#   scripts/bench-build.sh [SIZES...]      default: 1000 10000
#
# For each size: a full build of the `full` profile for every built-in tool (from an empty
# dist/), `cp -r` of the produced dist tree (the I/O floor), a no-op rebuild, a rebuild after
# editing one component, and the peak RSS of the full build. Env: RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
[ $# -eq 0 ] && sizes=(1000 10000)
runs=${RUNS:-5}
cargo build --release --locked -q -p kiln-cli
kiln="$PWD/target/release/kiln"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.1f}")' "$@"; }
now_ns() { date +%s%N; }
time_ms() {
  local s e
  s=$(now_ns)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  e=$(now_ns)
  echo $(( (e - s) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}

printf '%-7s %12s %12s %8s %12s %12s %10s %8s\n' size full_ms cp_r_ms ratio noop_ms edit_ms rss_mib files
for size in "${sizes[@]}"; do
  lib="$work/lib$size"
  "$kiln" dev generate-library "$lib" --components "$size" >/dev/null 2>&1
  cd "$lib"
  full=(); copy=(); noop=(); edit=()
  for _ in $(seq "$runs"); do
    rm -rf dist
    full+=("$(time_ms "$kiln" --no-inherit build full --all-tools)")
    rm -rf "$work/copy"
    copy+=("$(time_ms cp -r dist "$work/copy")")
    noop+=("$(time_ms "$kiln" --no-inherit build full --all-tools)")
    rules=(components/rules/*.rule.md)
    printf '\n- edited %s\n' "$RANDOM" >> "${rules[0]}"
    edit+=("$(time_ms "$kiln" --no-inherit build full --all-tools)")
  done
  rm -rf dist
  /usr/bin/time -o "$work/rss" -f '%M' "$kiln" --no-inherit build full --all-tools >/dev/null 2>&1
  rss=$(tail -1 "$work/rss")
  files=$(find dist -type f | wc -l)
  f=$(median "${full[@]}"); c=$(median "${copy[@]}")
  printf '%-7s %12s %12s %8s %12s %12s %10s %8s\n' "$size" "$f" "$c" "$(python3 -c "print(f'{$f/$c:.2f}')")" \
    "$(median "${noop[@]}")" "$(median "${edit[@]}")" "$(python3 -c "print(f'{$rss/1024:.0f}')")" "$files"
  cd - >/dev/null
done
echo "machine: $(nproc) cores, $(uname -srm); runs per figure: $runs (medians)"
