#!/usr/bin/env bash
# The CLI contract: exit 0 on success, 2 on a usage error with one line on stderr.
set -u
ward="$1"
fail=0
check() {  # check NAME EXPECTED_CODE ACTUAL_CODE
  if [[ "$2" != "$3" ]]; then echo "FAIL $1: exit $3, expected $2"; fail=1; else echo "ok   $1"; fi
}

out=$("$ward" --version); code=$?
check "--version exits 0" 0 $code
[[ "$out" =~ ^ward\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FAIL --version printed '$out'"; fail=1; }

"$ward" --help >/dev/null; check "--help exits 0" 0 $?

err=$("$ward" --no-such-flag 2>&1 >/dev/null); code=$?
check "unknown flag exits 2" 2 $code
[[ $(printf '%s\n' "$err" | wc -l) == 1 && "$err" == ward:* ]] || { echo "FAIL usage error printed: $err"; fail=1; }

err=$("$ward" no-such-command 2>&1 >/dev/null); code=$?
check "unknown subcommand exits 2" 2 $code

err=$("$ward" --log-level loud --version 2>&1 >/dev/null); code=$?
check "--version wins over later checks" 0 $code

exit $fail
