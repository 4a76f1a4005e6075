#!/usr/bin/env bash
# Resolve a GitHub Action reference to its commit SHA, printed as a ready-to-paste `uses:` value.
# Usage: pin-action.sh OWNER/REPO[/PATH]@REF   e.g.  pin-action.sh Swatinem/rust-cache@v2.8.0
# Uses `gh` when available (authenticated, higher rate limit), otherwise the public API via curl.
set -euo pipefail

if [[ $# -ne 1 || "$1" != *@* ]]; then
  echo "usage: $0 OWNER/REPO[/PATH]@REF" >&2
  exit 2
fi

action="${1%@*}"
ref="${1##*@}"
repo="$(cut -d/ -f1-2 <<<"$action")"

if command -v gh >/dev/null 2>&1; then
  sha="$(gh api "repos/$repo/commits/$ref" --jq .sha)"
else
  sha="$(curl -fsSL -H 'Accept: application/vnd.github.sha' "https://api.github.com/repos/$repo/commits/$ref")"
fi

if [[ ! "$sha" =~ ^[0-9a-f]{40}$ ]]; then
  echo "error: could not resolve $repo@$ref to a commit (got: $sha)" >&2
  exit 1
fi

echo "$action@$sha # $ref"
