#!/usr/bin/env bash
# Import benchmark: a generated hand-kept Claude Code home (default 2,000 skills with assets),
# imported into an empty library, against `cp -r` of the same `.claude` tree in the same run;
# then build + deploy of what was imported into an empty home. Prints medians and files/s.
#
#   scripts/bench-import.sh [SKILLS]      env: RUNS (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
skills=${1:-2000}
runs=${RUNS:-5}
cargo build --release --locked -q -p kiln-cli
kiln="$PWD/target/release/kiln"
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
fresh_library() {
  rm -rf "$work/lib" "$work/copy" "$work/home" "$work/state"
  mkdir -p "$work/lib/components" "$work/lib/profiles" "$work/copy" "$work/home" "$work/state"
  printf 'version = 1\n' > "$work/lib/kiln.toml"
  sync
}
import() { (cd "$work/lib" && "$kiln" import claude-code "$work/source"); }
copy() { cp -r "$work/source/.claude" "$work/copy/"; }
build_deploy() {
  (cd "$work/lib" && "$kiln" build imported claude-code &&
    HOME="$work/home" XDG_STATE_HOME="$work/state" "$kiln" deploy imported claude-code --no-build)
}

"$kiln" dev generate-home "$work/source" --skills "$skills" >/dev/null 2>&1
files=$(find "$work/source/.claude" "$work/source/.claude.json" \( -type f -o -type l \) | wc -l)
i=(); c=(); b=()
for _ in $(seq "$runs"); do
  fresh_library
  i+=("$(time_ms import)")
  c+=("$(time_ms copy)")
  b+=("$(time_ms build_deploy)")
done
im=$(median "${i[@]}"); cm=$(median "${c[@]}"); bm=$(median "${b[@]}")
printf '%-7s %7s %10s %9s %7s %13s %16s\n' skills files import_ms cp_r_ms ratio files_per_s build_deploy_ms
printf '%-7s %7s %10s %9s %7s %13s %16s\n' "$skills" "$files" "$im" "$cm" \
  "$(python3 -c "print(f'{$im/$cm:.2f}')")" "$(python3 -c "print(f'{$files/($im/1000):.0f}')")" "$bm"
echo "machine: $(nproc) cores, $(uname -srm); runs per figure: $runs (medians)"
