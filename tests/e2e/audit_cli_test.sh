#!/usr/bin/env bash
# `ward keys` and `ward audit` end to end: keys are shown once, key operations are audited, and
# `ward audit verify` catches edited, deleted and truncated logs (docs/audit.md).
set -u
ward="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export WARD_DATA_DIR="$tmp/data"
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
one_line() { [[ $(printf '%s\n' "$1" | wc -l) == 1 ]]; }

# No log yet: exit 1 with one line naming the path.
err=$("$ward" audit verify 2>&1 >/dev/null); code=$?
[[ $code == 1 && "$err" == *"no audit log at $tmp/data/audit.db"* ]] && one_line "$err" \
  && ok "verify without a log exits 1" || bad "verify without a log: exit $code, '$err'"

# keys create prints the key and nothing else on stdout.
key1=$("$ward" keys create --name "ward e2e clinician" --role clinician 2>"$tmp/create.err"); code=$?
[[ $code == 0 && "$key1" =~ ^ward_[0-9a-f]{64}$ ]] && ok "keys create prints only the key" \
  || bad "keys create: exit $code, stdout '$key1'"
grep -q "shown only this once" "$tmp/create.err" && ok "keys create notes on stderr" || bad "no stderr note"
id1=${key1:5:8}
key2=$("$ward" keys create --name "EHR" --role service 2>/dev/null)
"$ward" keys create --name x --role root >/dev/null 2>&1; code=$?
[[ $code == 2 ]] && ok "unknown role is a usage error" || bad "unknown role exit $code"

list=$("$ward" keys list); code=$?
[[ $code == 0 && "$list" == *"$id1"*"clinician"*"ward e2e clinician"* ]] && ok "keys list shows the key" \
  || bad "keys list: $list"
[[ "$list" != *"${key1:13}"* ]] && ok "keys list never shows the secret" || bad "keys list leaks the key"
"$ward" keys revoke "$id1" 2>/dev/null && ok "keys revoke" || bad "keys revoke exit $?"
[[ $("$ward" keys list | grep "$id1") =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z.*[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] \
  && ok "keys list shows the revocation time" || bad "revocation not listed"
err=$("$ward" keys revoke ffffffff 2>&1); code=$?
[[ $code == 1 ]] && one_line "$err" && ok "revoking an unknown id exits 1" || bad "revoke unknown: $code '$err'"

# Three key operations were audited: the chain verifies and the head matches.
out=$("$ward" audit verify); code=$?
[[ $code == 0 && "$out" =~ ^ok:\ 3\ records,\ head\ [0-9a-f]{64}$ ]] && ok "verify: $out" \
  || bad "verify: exit $code, '$out'"
head=$("$ward" audit head)
[[ "$head" == "3 ${out##* }" ]] && ok "audit head matches verify" || bad "audit head '$head'"

"$ward" audit export --format fhir --out "$tmp/audit.ndjson" && ok "export exits 0" || bad "export exit $?"
[[ $(wc -l <"$tmp/audit.ndjson") == 3 ]] && ok "export writes 3 lines" || bad "export lines: $(wc -l <"$tmp/audit.ndjson")"
[[ $(grep -c '"resourceType":"AuditEvent"' "$tmp/audit.ndjson") == 3 ]] \
  && grep -q '"code":"cli keys create"' "$tmp/audit.ndjson" && ok "export is AuditEvent NDJSON" \
  || bad "export content: $(head -c 300 "$tmp/audit.ndjson")"
"$ward" audit export --format csv >/dev/null 2>&1; code=$?
[[ $code == 2 ]] && ok "unknown export format is a usage error" || bad "export --format csv exit $code"

# Truncation: put back an older copy of the log; the head file still names record 5.
cp "$tmp/data/audit.db" "$tmp/audit-3.db"
"$ward" keys create --name a --role researcher >/dev/null 2>&1
"$ward" keys create --name b --role admin >/dev/null 2>&1
[[ $("$ward" audit verify) == "ok: 5 records,"* ]] && ok "verify after 5 records" || bad "verify after 5"
cp "$tmp/data/audit.db" "$tmp/audit-5.db"
cp "$tmp/audit-3.db" "$tmp/data/audit.db"; rm -f "$tmp/data/audit.db-wal" "$tmp/data/audit.db-shm"
err=$("$ward" audit verify 2>&1); code=$?
[[ $code == 1 && "$err" == *"the last 2 records are missing (head says 5, log ends at 3)"* ]] && one_line "$err" \
  && ok "truncated log: $err" || bad "truncated log: exit $code, '$err'"
cp "$tmp/audit-5.db" "$tmp/data/audit.db"

# Editing and deleting rows, with the sqlite3 shell when it is installed.
if command -v sqlite3 >/dev/null; then
  sqlite3 "$tmp/data/audit.db" "UPDATE audit_log SET record = replace(record, 'admin', 'clinician') WHERE seq = 2"
  err=$("$ward" audit verify 2>&1); code=$?
  [[ $code == 1 && "$err" == *"audit: record 2: hash mismatch (edited)" ]] && ok "edited row: $err" \
    || bad "edited row: exit $code, '$err'"
  cp "$tmp/audit-5.db" "$tmp/data/audit.db"
  sqlite3 "$tmp/data/audit.db" "DELETE FROM audit_log WHERE seq = 4"
  err=$("$ward" audit verify 2>&1); code=$?
  [[ $code == 1 && "$err" == *"audit: record 4 is missing (deleted)" ]] && ok "deleted row: $err" \
    || bad "deleted row: exit $code, '$err'"
  cp "$tmp/audit-5.db" "$tmp/data/audit.db"
else
  echo "skip edited/deleted rows (no sqlite3 shell)"
fi

# A missing head file is reported, not silently recreated.
rm "$tmp/data/audit.db.head"
err=$("$ward" audit verify 2>&1); code=$?
[[ $code == 1 && "$err" == *"audit.db.head is missing"* ]] && ok "missing head is reported" \
  || bad "missing head: exit $code, '$err'"

exit $fail
