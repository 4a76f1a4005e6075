#!/usr/bin/env bash
# Import → build → deploy round trip judged by the real tools. For each of Claude Code, Codex
# CLI, Gemini CLI and opencode: import the probe kit's example home and project
# (../shared/clients/fixtures) into a fresh library, build, deploy into an empty home and
# project, and run ../shared/clients/probe.sh on the original and on the deployed copy. The
# MCP servers, skills, agents and commands each tool lists must be the same; any config error
# a tool reports on the deployed copy fails the run.
#
#   scripts/probe-roundtrip.sh [TOOL…]     (needs ../shared/clients/setup.sh to have run)
#
# Prints one line per tool ("claude-code: 9 of 9 items the same") and exits 1 on a difference.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
shared=${KILN_SHARED:-$here/../shared}
probe=$shared/clients/probe.sh
fixtures=$shared/clients/fixtures
kiln=${KILN:-$here/target/debug/kiln}
[[ -n ${KILN:-} ]] || cargo build --quiet --manifest-path "$here/Cargo.toml" -p kiln-cli
tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(claude-code codex gemini opencode)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# probe.sh's name for each tool, and the kinds compared (memory files and warnings differ by
# design: kiln writes its own CLAUDE.md sections, and a fresh project is untrusted the same way).
probe_name() { case $1 in gemini) echo gemini-cli ;; *) echo "$1" ;; esac; }
items() { grep -E "^$1 (mcp|skill|agent|command|hooks?) " "$2" | sed 's/ *$//' | sort -u; }

failed=0
for tool in "${tools[@]}"; do
  name=$(probe_name "$tool")
  work=$scratch/$tool
  mkdir -p "$work/lib" "$work/home" "$work/project" "$work/state"
  printf 'version = 1\n' >"$work/lib/kiln.toml"
  run() {
    (cd "$work/lib" && env HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" \
      XDG_STATE_HOME="$work/state" "$kiln" "$@")
  }
  # The original, as the tool sees it.
  "$probe" --tools "$name" "$fixtures/home" "$fixtures/project" >"$work/before.txt" 2>"$work/before.err" || true
  if ! run import "$tool" "$fixtures/home" --scope global >"$work/import.txt" 2>&1 \
    || ! run import "$tool" "$fixtures/project" --scope project >>"$work/import.txt" 2>&1; then
    echo "$tool: import failed:"; sed 's/^/  /' "$work/import.txt"; failed=1; continue
  fi
  if ! run deploy imported "$tool" >"$work/deploy.txt" 2>&1 \
    || ! run deploy imported "$tool" --project "$work/project" >>"$work/deploy.txt" 2>&1; then
    echo "$tool: deploy failed:"; sed 's/^/  /' "$work/deploy.txt"; failed=1; continue
  fi
  status=0
  "$probe" --tools "$name" "$work/home" "$work/project" >"$work/after.txt" 2>"$work/after.err" || status=$?
  items "$name" "$work/before.txt" >"$work/want"
  items "$name" "$work/after.txt" >"$work/got"
  if [[ $status -ne 0 ]]; then
    echo "$tool: probe.sh exited $status on the deployed home:"
    grep -E "error" "$work/after.txt" | sed 's/^/  /'
    failed=1
  fi
  if diff -u "$work/want" "$work/got" >"$work/diff"; then
    echo "$tool: $(wc -l <"$work/want" | tr -d ' ') of $(wc -l <"$work/want" | tr -d ' ') items the same ($(tr '\n' ';' <"$work/want" | sed "s/$name //g; s/;$//; s/;/, /g"))"
  else
    echo "$tool: the deployed home differs from the original (- original, + deployed):"
    tail -n +3 "$work/diff" | grep '^[-+]' | sed 's/^/  /'
    failed=1
  fi
done
exit $failed
