#!/usr/bin/env bash
# Validate a tap formula the way Homebrew CI would: style, audit, build from source, test.
# Usage: check-formula.sh <tap/name or name> [--new]
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 <formula> [--new]" >&2
  exit 2
fi

formula="$1"
new_flag=()
if [[ "${2:-}" == "--new" ]]; then
  new_flag=(--new)
fi

run() {
  echo "==> $*" >&2
  "$@"
}

run brew style "$formula"
run brew audit --strict --online ${new_flag[@]+"${new_flag[@]}"} "$formula"
run brew install --build-from-source --verbose "$formula"
run brew test --verbose "$formula"
run brew linkage --test "$formula"

echo "==> $formula passed style, audit, build, test and linkage checks" >&2
