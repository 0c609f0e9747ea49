#!/usr/bin/env bash
# The engine commands' output contracts, on the real stories260K model (docs/engine.md).
set -u
ward="$1"
data="$2"
model="$data/models/stories260K.gguf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fail=1; }

# Greedy generation from BOS reproduces the reference implementation's 200 ids.
"$ward" generate -m "$model" --temp 0 -n 200 --ids >"$tmp/ids" 2>"$tmp/err" || bad "generate exit $?"
if [[ "$(tr -s ' \n' '\n\n' <"$tmp/ids" | sed '/^$/d')" == "$(tr -s ' \n' '\n\n' <"$data/models/stories260K.greedy-200.ids.txt" | sed '/^$/d')" ]]; then
  ok "generate --temp 0 -n 200 matches the reference ids"
else
  bad "generate ids differ: $(head -c 200 "$tmp/ids")"
fi
grep -q "tokens/s" "$tmp/err" && ok "timings on stderr" || bad "no timings on stderr"

# Text mode prints the published text.
"$ward" generate -m "$model" --temp 0 -n 200 >"$tmp/text" 2>/dev/null
cmp -s <(sed -e '$a\' "$tmp/text") <(sed -e '$a\' "$data/models/stories260K.greedy-200.txt") \
  && ok "generate text matches the published text" || bad "generate text differs"

# tokenize --ids: ids on one line, single spaces, no BOS unless --bos.
out=$("$ward" tokenize -m "$data/tokenizers/vocab-llama3-bpe.gguf" --ids "Hello world")
[[ "$out" == "9906 1917" ]] && ok "tokenize --ids" || bad "tokenize --ids printed '$out'"
out=$("$ward" tokenize -m "$data/tokenizers/vocab-llama3-bpe.gguf" --ids --bos "Hello world")
[[ "$out" == "128000 9906 1917" ]] && ok "tokenize --ids --bos" || bad "tokenize --bos printed '$out'"
printf 'Hello world' >"$tmp/in.txt"
out=$("$ward" tokenize -m "$data/tokenizers/vocab-llama3-bpe.gguf" --ids -f "$tmp/in.txt")
[[ "$out" == "9906 1917" ]] && ok "tokenize -f" || bad "tokenize -f printed '$out'"

# perplexity: the last stdout line is exactly "perplexity: <value>" with 4 decimals.
for i in 1 2 3 4; do cat "$data/models/stories260K.greedy-200.txt"; done >"$tmp/ppl.txt"
last=$("$ward" perplexity -m "$model" -f "$tmp/ppl.txt" -c 128 2>/dev/null | tail -n 1)
[[ "$last" =~ ^perplexity:\ [0-9]+\.[0-9]{4}$ ]] && ok "perplexity line: $last" || bad "perplexity printed '$last'"

# model info names the architecture and the file's SHA-256.
info=$("$ward" model info "$model")
grep -qx "architecture: llama" <<<"$info" && ok "model info architecture" || bad "model info: $info"
want="sha256: $(sha256sum "$model" | cut -d' ' -f1)"
grep -qx "$want" <<<"$info" && ok "model info sha256" || bad "model info sha256"

# Errors: a usage error exits 2, a runtime failure 1, each with one line on stderr.
"$ward" generate -p "x" >/dev/null 2>"$tmp/err"; code=$?
[[ $code == 2 && $(wc -l <"$tmp/err") == 1 ]] && ok "missing -m exits 2" || bad "missing -m: exit $code, $(cat "$tmp/err")"
"$ward" generate -m "$tmp/none.gguf" >/dev/null 2>"$tmp/err"; code=$?
[[ $code == 1 && $(wc -l <"$tmp/err") == 1 ]] && grep -q "none.gguf" "$tmp/err" \
  && ok "missing model file exits 1" || bad "missing file: exit $code, $(cat "$tmp/err")"
head -c 100 "$model" >"$tmp/cut.gguf"
"$ward" model info "$tmp/cut.gguf" >/dev/null 2>"$tmp/err"; code=$?
[[ $code == 1 ]] && grep -q "cut.gguf: gguf: " "$tmp/err" && ok "truncated model: $(cat "$tmp/err")" || bad "truncated: exit $code, $(cat "$tmp/err")"
"$ward" generate -m "$model" -c 8 -p "$(cat "$data/models/stories260K.greedy-200.txt")" >/dev/null 2>"$tmp/err"; code=$?
[[ $code == 1 ]] && grep -q "do not fit" "$tmp/err" && ok "prompt longer than context" || bad "long prompt: exit $code, $(cat "$tmp/err")"

exit $fail
