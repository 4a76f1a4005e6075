# Shared by the bench scripts (sourced): a scratch folder, a 1Password stand-in, and timing.
# Sets `work` (removed on exit); `op_answer` is the printf format `op read` answers with.

# BENCH_DIR: where the scratch folder goes; default a tmpfs (/dev/shm) when there is one, so
# the figures are kiln's and not the disk's writeback.
if [ -z "${BENCH_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then BENCH_DIR=/dev/shm; fi
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/no-user-config"
# `op inject` answers each {{ REF }} the way `op read REF` does (kiln asks once per run).
op_format=${op_answer:-%s}
op_prefix=${op_format%%"%s"*}
op_suffix=${op_format#*"%s"}
{
  printf '#!/bin/sh\n'
  printf '[ "$1" = inject ] && exec sed -E "s/[{][{] ([^}]*) [}][}]/%s\\1%s/g"\n' "$op_prefix" "$op_suffix"
  printf 'printf "%s" "$3"\n' "$op_format"
} > "$work/op"
chmod +x "$work/op"
printf '[secrets]\nop_command = "%s"\n' "$work/op" > "$work/config.toml"
export KILN_CONFIG="$work/config.toml" XDG_CONFIG_HOME="$work/no-user-config"

# The median of the arguments, one decimal.
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' "$@"; }

# Runs a command quietly and prints how long it took in milliseconds; stops the bench if it fails.
time_ms() {
  local s e
  s=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  e=$(date +%s%N)
  python3 -c "print(f'{($e - $s) / 1e6:.1f}')"
}
