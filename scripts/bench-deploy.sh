#!/usr/bin/env bash
# Deploy and check benchmark on generated libraries (release build). Prints medians.
#
#   scripts/bench-deploy.sh [SIZES...]      default: 10000
#
# For each size, after `kiln build full --all-tools`: a cold deploy of every tool (global scope
# into an empty temporary HOME plus project scope into an empty project), `cp -r` of the same
# dist trees (the I/O floor), a no-op deploy (nothing changed), `kiln check` over everything
# deployed, and `sha256sum` (or `b3sum` when installed) over the deployed files (the hashing
# floor for check). Secrets resolve through a fake `op`. Env: RUNS (default 5), KILN_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10000}")
[ $# -eq 0 ] && sizes=(10000)
runs=${RUNS:-5}
# KILN_BIN: a kiln binary to measure instead (a before/after comparison of two builds).
if [ -n "${KILN_BIN:-}" ]; then
  kiln="$KILN_BIN"
else
  cargo build --release --locked -q -p kiln-cli
  kiln="$PWD/target/release/kiln"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hasher=sha256sum
command -v b3sum >/dev/null && hasher=b3sum

printf '#!/bin/sh\nprintf "secret-%%s" "$(echo "$3" | tr -c "A-Za-z0-9" _)"\n' > "$work/op"
chmod +x "$work/op"
printf '[secrets]\nop_command = "%s"\n' "$work/op" > "$work/config.toml"
mkdir -p "$work/no-user-config"
export KILN_CONFIG="$work/config.toml" XDG_CONFIG_HOME="$work/no-user-config"

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.1f}")' "$@"; }
now_ns() { date +%s%N; }
time_ms() {
  local s e
  s=$(now_ns)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  e=$(now_ns)
  echo $(( (e - s) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}
deploy_all() {
  HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" deploy full --all-tools &&
    HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" deploy full --all-tools --project "$work/project"
}
check_all() { HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" check; }
copy_all() {
  for tree in dist/*/full/global; do cp -r "$tree/." "$work/copy/global"; done
  for tree in dist/*/full/project; do cp -r "$tree/." "$work/copy/project"; done
}
hash_all() { find "$work/home" "$work/project" -type f -print0 | xargs -0 "$hasher"; }

printf '%-7s %10s %9s %7s %9s %9s %9s %7s %7s\n' size deploy_ms cp_r_ms ratio noop_ms check_ms hash_ms ratio files
for size in "${sizes[@]}"; do
  lib="$work/lib$size"
  "$kiln" dev generate-library "$lib" --components "$size" >/dev/null 2>&1
  cd "$lib"
  "$kiln" build full --all-tools >/dev/null 2>&1
  cold=(); copy=(); noop=(); check=(); hash=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/home" "$work/state" "$work/project" "$work/copy"
    mkdir -p "$work/home" "$work/state" "$work/project" "$work/copy/global" "$work/copy/project"
    sync
    cold+=("$(time_ms deploy_all)")
    copy+=("$(time_ms copy_all)")
    noop+=("$(time_ms deploy_all)")
    check+=("$(time_ms check_all)")
    hash+=("$(time_ms hash_all)")
  done
  files=$(find "$work/home" "$work/project" -type f | wc -l)
  d=$(median "${cold[@]}"); c=$(median "${copy[@]}"); k=$(median "${check[@]}"); h=$(median "${hash[@]}")
  printf '%-7s %10s %9s %7s %9s %9s %9s %7s %7s\n' "$size" "$d" "$c" "$(python3 -c "print(f'{$d/$c:.2f}')")" \
    "$(median "${noop[@]}")" "$k" "$h" "$(python3 -c "print(f'{$k/$h:.2f}')")" "$files"
  cd - >/dev/null
done
echo "machine: $(nproc) cores, $(uname -srm); hasher: $hasher; runs per figure: $runs (medians)"
