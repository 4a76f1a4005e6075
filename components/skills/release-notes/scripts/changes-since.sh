#!/usr/bin/env bash
# List commits in a range grouped by Conventional Commit type, breaking changes first.
# Usage: changes-since.sh [FROM [TO]]   (FROM defaults to the latest tag, TO to HEAD)
# Works with the bash 3.2 that ships with macOS.
set -euo pipefail

from="${1:-$(git describe --tags --abbrev=0 2>/dev/null || true)}"
to="${2:-HEAD}"

if [[ -n "$from" ]]; then
  range="$from..$to"
else
  range="$to" # no tags yet: the whole history
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

# One record per commit (fields split by the ASCII unit separator, records by NUL), written to
# $tmp as "<type><TAB><line>"; breaking changes are written a second time with type "!".
while IFS=$'\x1f' read -r -d '' hash subject body; do
  hash="${hash#$'\n'}"
  line="- $subject ($hash)"
  if [[ "$subject" =~ ^([a-z]+)(\([^\)]*\))?(!?):\  ]]; then
    type="${BASH_REMATCH[1]}"
    bang="${BASH_REMATCH[3]}"
  else
    type="other"
    bang=""
  fi
  if [[ -n "$bang" || "$body" == *"BREAKING CHANGE"* ]]; then
    printf '!\t%s\n' "$line" >>"$tmp"
  fi
  printf '%s\t%s\n' "$type" "$line" >>"$tmp"
done < <(git log --no-merges --format='%h%x1f%s%x1f%b%x00' "$range")

section() { # section TYPE HEADING
  local lines
  lines="$(grep "^$1"$'\t' "$tmp" | cut -f2- || true)"
  if [[ -n "$lines" ]]; then
    printf '## %s\n%s\n\n' "$2" "$lines"
  fi
}

printf '# Changes in %s\n\n' "$range"
section '!' 'Breaking changes'
standard="feat fix perf refactor docs test build ci chore revert"
for type in $standard; do
  section "$type" "$type"
done
# Types outside the standard list (for example "style" or project-specific ones), then the rest.
for type in $(cut -f1 "$tmp" | sort -u); do
  case " ! other $standard " in
    *" $type "*) ;;
    *) section "$type" "$type" ;;
  esac
done
section other 'Other (not Conventional Commits)'
