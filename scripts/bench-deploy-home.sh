#!/usr/bin/env bash
# A durable deploy of one `~/.claude`-sized home, against copying the same tree.
#
#   scripts/bench-deploy-home.sh [COMPONENTS]      default: 1430 (about 1,170 files)
#
# Generates a library, builds it for claude-code once, then RUNS times (default 5): deploys it
# with --no-build into an empty HOME, and copies the same dist tree with `cp -r` (no fsync: the
# floor) and with `cp -r` followed by `sync -f` on the copy (a durable copy). Prints medians,
# and with strace installed the fsync/fdatasync/syncfs calls (barriers) of one deploy. KILN=path measures another
# kiln binary (to compare before and after a change); the default is this tree's release build.
set -euo pipefail
cd "$(dirname "$0")/.."
components=${1:-1430}
runs=${RUNS:-5}
if [ -z "${KILN:-}" ]; then
  cargo build --release --locked -q -p kiln-cli
  KILN="$PWD/target/release/kiln"
fi
op_answer="secret-%s"
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
deploy() { HOME="$work/home" XDG_STATE_HOME="$work/state" "$KILN" deploy full claude-code --no-build; }
copy() { cp -r "$tree/." "$work/copy"; }
durable_copy() { cp -r "$tree/." "$work/copy" && sync -f "$work/copy"; }
fresh() { rm -rf "$work/home" "$work/state" "$work/copy"; mkdir -p "$work/home" "$work/state" "$work/copy"; sync; }

"$KILN" dev generate-library "$work/lib" --components "$components" >/dev/null 2>&1
cd "$work/lib"
"$KILN" build full claude-code >/dev/null 2>&1
tree="$work/lib/dist/claude-code/full/global"
d=(); c=(); s=()
for _ in $(seq "$runs"); do
  fresh; d+=("$(time_ms deploy)")
  fresh; c+=("$(time_ms copy)")
  fresh; s+=("$(time_ms durable_copy)")
done
files=$(find "$tree" -type f | wc -l)
dm=$(median "${d[@]}"); cm=$(median "${c[@]}"); sm=$(median "${s[@]}")
printf '%-6s %10s %9s %7s %15s %7s\n' files deploy_ms cp_r_ms ratio cp_r_sync_ms ratio
printf '%-6s %10s %9s %7s %15s %7s\n' "$files" "$dm" "$cm" "$(python3 -c "print(f'{$dm/$cm:.2f}')")" \
  "$sm" "$(python3 -c "print(f'{$dm/$sm:.2f}')")"
if command -v strace >/dev/null; then
  fresh
  HOME="$work/home" XDG_STATE_HOME="$work/state" strace -f -c -e trace=fsync,fdatasync,syncfs -o "$work/strace" \
    "$KILN" deploy full claude-code --no-build >/dev/null 2>&1
  calls=$(awk '$NF == "fsync" || $NF == "fdatasync" || $NF == "syncfs" { n += $4 } END { print n + 0 }' "$work/strace")
  echo "fsync+fdatasync+syncfs calls in one deploy: $calls"
fi
echo "machine: $(nproc) cores, $(uname -srm); runs per figure: $runs (medians); kiln: $KILN"
