#!/usr/bin/env bash
# Lint every workflow under .github/workflows with actionlint (which also runs shellcheck on
# `run:` scripts when shellcheck is installed). Run from the repository root.
set -euo pipefail

if ! command -v actionlint >/dev/null 2>&1; then
  echo "error: actionlint is not installed (brew install actionlint, or go install github.com/rhysd/actionlint/cmd/actionlint@latest)" >&2
  exit 127
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [[ ${#workflows[@]} -eq 0 ]]; then
  echo "no workflows found under .github/workflows" >&2
  exit 0
fi

actionlint -color "${workflows[@]}"
