#!/usr/bin/env bash
# The speed benchmark of issue 15: kiln paired with its floor in the same run, A B A B …
#
#   scripts/bench.sh [SIZES...]      default: 1000 10000 20000
#   env: RUNS (pairs per figure, default 5), KILN_BIN (measure this binary instead of building),
#        BENCH_DIR (scratch folder; default /dev/shm, a tmpfs, when there is one)
#
# For each size, on a library from `kiln dev generate-library` (profile `full`, every tool):
#   fresh build       vs  cp -r of the dist it produced
#   no-op build       vs  a stat walk of dist (find -printf of size and mtime)
#   one-rule edit     (no floor: the target is an absolute time)
#   fresh deploy      vs  cp -r of the same dist trees (global into a home, project into a project)
#   no-op deploy      vs  a stat walk of the deployed files
#   check             vs  b3sum (or sha256sum) of the deployed files
# and the peak RSS of a fresh build and a fresh deploy (/usr/bin/time -v). Deploys use
# --no-build and resolve secrets through a stand-in `op`. Each row gives kiln's and the floor's
# median and the min and median of the per-pair ratio. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then sizes=(1000 10000 20000); else sizes=("$@"); fi
runs=${RUNS:-5}
if [ -n "${KILN_BIN:-}" ]; then
  kiln="$KILN_BIN"
else
  cargo build --release --locked -q -p kiln-cli
  kiln="$PWD/target/release/kiln"
fi
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
hasher=sha256sum
command -v b3sum >/dev/null && hasher=b3sum
results="$work/results"
: > "$results"

# Runs a command with its output kept aside; prints milliseconds, or the output's tail and stops.
timed() {
  local s e
  s=$(date +%s%N)
  if ! "$@" > "$work/last.log" 2>&1; then
    echo "failed: $*" >&2
    tail -20 "$work/last.log" >&2
    exit 1
  fi
  e=$(date +%s%N)
  python3 -c "print(f'{($e - $s) / 1e6:.1f}')"
}
# record SIZE WORK KILN_MS FLOOR_MS (FLOOR_MS `-` when the work has no floor)
record() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$results"; }

build() { "$kiln" --no-inherit build full --all-tools; }
deploy_all() {
  HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" deploy full --all-tools --no-build &&
    HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" deploy full --all-tools --no-build \
      --project "$work/project"
}
check_all() { HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" check; }
copy_dist() {
  rm -rf "$work/copy" && mkdir -p "$work/copy/global" "$work/copy/project"
  for tree in dist/*/full/global; do cp -r "$tree/." "$work/copy/global"; done
  for tree in dist/*/full/project; do cp -r "$tree/." "$work/copy/project"; done
}
stat_walk() { find "$@" -printf '%s %T@\n' > /dev/null; }
hash_deployed() { find "$work/home" "$work/project" -type f -print0 | xargs -0 "$hasher" > /dev/null; }
fresh_home() {
  # XDG_CONFIG_HOME is where opencode and Zed read their global files: emptied too.
  rm -rf "$work/home" "$work/state" "$work/project" "$XDG_CONFIG_HOME"
  mkdir -p "$work/home" "$work/state" "$work/project" "$XDG_CONFIG_HOME"
}
peak_rss_mib() {
  /usr/bin/time -v "$@" 2> "$work/rss.log" > /dev/null || { tail -20 "$work/rss.log" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ { printf "%.0f\n", $2 / 1024 }' "$work/rss.log"
}

for size in "${sizes[@]}"; do
  lib="$work/lib$size"
  echo "size $size: generating" >&2
  "$kiln" dev generate-library "$lib" --components "$size" > /dev/null 2>&1
  cd "$lib"
  rules=(components/rules/*.rule.md)
  for run in $(seq "$runs"); do
    echo "size $size: pair $run of $runs" >&2
    rm -rf dist
    sync
    a=$(timed build); b=$(timed cp -r dist "$work/dist-copy"); rm -rf "$work/dist-copy"
    record "$size" "fresh build / cp -r of dist" "$a" "$b"
    a=$(timed build); b=$(timed stat_walk dist)
    record "$size" "no-op build / stat walk of dist" "$a" "$b"
    printf '\n- edited in pair %s\n' "$run" >> "${rules[0]}"
    record "$size" "build after a one-rule edit" "$(timed build)" -
    fresh_home
    sync
    a=$(timed deploy_all); b=$(timed copy_dist)
    record "$size" "fresh deploy / cp -r of the same files" "$a" "$b"
    a=$(timed deploy_all); b=$(timed stat_walk "$work/home" "$work/project")
    record "$size" "no-op deploy / stat walk of deployed" "$a" "$b"
    a=$(timed check_all); b=$(timed hash_deployed)
    record "$size" "check / $hasher of deployed" "$a" "$b"
  done
  deployed=$(find "$work/home" "$work/project" -type f | wc -l)
  rm -rf dist
  build_rss=$(peak_rss_mib "$kiln" --no-inherit build full --all-tools)
  fresh_home
  deploy_rss=$(HOME="$work/home" XDG_STATE_HOME="$work/state" peak_rss_mib "$kiln" deploy full --all-tools --no-build)
  record "$size" "peak RSS build / deploy (MiB)" "$build_rss / $deploy_rss" -
  record "$size" "files: dist / deployed" "$(find dist -type f | wc -l) / $deployed" -
  cd - > /dev/null
done

python3 - "$results" <<'EOF'
import statistics, sys
from collections import OrderedDict
rows = OrderedDict()
for line in open(sys.argv[1]):
    size, work, kiln, floor = line.rstrip("\n").split("\t")
    rows.setdefault((size, work), []).append((kiln, floor))
print(f"| {'size':>6} | {'work':<40} | {'kiln ms':>10} | {'floor ms':>9} | {'ratio min':>9} | {'ratio median':>12} |")
print(f"|{'-'*8}|{'-'*42}|{'-'*12}|{'-'*11}|{'-'*11}|{'-'*14}|")
for (size, work), pairs in rows.items():
    if pairs[0][1] == "-":
        try:
            kiln = f"{statistics.median(float(k) for k, _ in pairs):.1f}"
        except ValueError:
            kiln = pairs[0][0]
        print(f"| {size:>6} | {work:<40} | {kiln:>10} | {'':>9} | {'':>9} | {'':>12} |")
        continue
    kiln = [float(k) for k, _ in pairs]
    floor = [float(f) for _, f in pairs]
    ratios = [k / f for k, f in zip(kiln, floor)]
    print(f"| {size:>6} | {work:<40} | {statistics.median(kiln):>10.1f} | {statistics.median(floor):>9.1f} "
          f"| {min(ratios):>9.2f} | {statistics.median(ratios):>12.2f} |")
EOF
echo "machine: $(nproc) cores, $(uname -srm); $runs pairs per figure; hasher: $hasher; on $(df --output=fstype "$work" | tail -1)"
