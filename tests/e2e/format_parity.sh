#!/usr/bin/env bash
# tests/e2e/format_parity.sh -- issue #13 / #18 D6: one row validator.  The
# same rows go through `notescore import` and through POST /v1/ratings (and
# /v1/enrollment) of a real `notescore serve`, as a TSV body and as NDJSON
# built from the same cells; the accept/reject decision and the reject code
# must be the same row by row, and both DBs must hold the same rows.  The
# rows cover every reject code a ratings / enrollment row can get, ids of
# 255/256/257 bytes, non-positive and boolean ids, a new rating-source
# bucket, a BOM, a duplicated column.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

id255=$(printf 'f%.0s' $(seq 255))
id256=$(printf 'f%.0s' $(seq 256))
id257=$(printf 'f%.0s' $(seq 257))

# --- the rows: one case per line (line 1 is the header)
{
  printf 'noteId\traterParticipantId\tcreatedAtMillis\thelpful\tnotHelpful\thelpfulnessLevel\thelpfulClear\tratingSourceBucketed\n'
  printf '1\tr1\t5\t0\t0\tHELPFUL\t0\tDEFAULT\n'                 # 2 ok
  printf '2\tr1\t5\t0\t0\tHELPFUL\t1\tNEW_BUCKET\n'              # 3 ok: read as DEFAULT
  printf '3\tr1\t5\t0\t0\tNOT_HELPFUL\t0\tPOPULATION_SAMPLED\n'  # 4 ok
  printf '4\t%s\t5\t0\t0\tHELPFUL\t0\t\n' "$id255"               # 5 ok: the limit
  printf '5\t%s\t5\t0\t0\tHELPFUL\t0\t\n' "$id256"               # 6 participant_too_long
  printf '6\t%s\t5\t0\t0\tHELPFUL\t0\t\n' "$id257"               # 7 participant_too_long
  printf '0\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                        # 8 id_not_positive
  printf -- '-6\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                    # 9 id_not_positive
  printf 'true\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                     # 10 not_integer
  printf 'abc\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                      # 11 not_integer
  printf '\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                         # 12 missing
  printf '7.0\tr1\t5\t0\t0\tHELPFUL\t0\t\n'                      # 13 ok (pandas spelling)
  printf '8\tr1\t-5\t0\t0\tHELPFUL\t0\t\n'                       # 14 negative_time
  printf '9\tr1\t0\t0\t0\tHELPFUL\t0\t\n'                        # 15 ok
  printf '10\t\t5\t0\t0\tHELPFUL\t0\t\n'                         # 16 missing
  printf '11\tr\001x\t5\t0\t0\tHELPFUL\t0\t\n'                   # 17 bad_participant
  printf '12\tr1\t5\t0\t0\tMEH\t0\t\n'                           # 18 unknown_value
  printf '13\tr1\t5\t0\t0\t\t0\t\n'                              # 19 no_level
  printf '14\tr1\t5\t1\t0\t\t0\t\n'                              # 20 ok: legacy helpful
  printf '15\tr1\t5\t0\t0\tHELPFUL\t2\t\n'                       # 21 not_flag
  printf '16\tr1\t5\t0\t0\tHELPFUL\t0\tbad bucket\n'             # 22 unknown_value
  printf '17\tr2\t5\t0\t1\tSOMEWHAT_HELPFUL\t0\t\n'              # 23 ok
} > "$T/rows.tsv"
want_codes='6 participant_too_long
7 participant_too_long
8 id_not_positive
9 id_not_positive
10 not_integer
11 not_integer
12 missing
14 negative_time
16 missing
17 bad_participant
18 unknown_value
19 no_level
21 not_flag
22 unknown_value'

# reader-level rejects, for import vs a TSV body (NDJSON has no such rows)
{
  printf '\xEF\xBB\xBFnoteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n'
  printf '31\tq1\t5\tHELPFUL\n'              # 2 ok (after a BOM)
  printf '32\tq1\t5\n'                       # 3 field_count
  printf '33\tq\xff\t5\tHELPFUL\n'           # 4 invalid_utf8
  printf '34\t"q2"\t5\tHELPFUL\n'            # 5 ok: quoted
  printf '35\tq1\t5\tHELPFUL\textra\n'       # 6 field_count
  printf '36\t"q3\t5\tHELPFUL\n'             # 7 bad_quote (swallows the rest)
} > "$T/reader.tsv"
want_reader='3 field_count
4 invalid_utf8
6 field_count
7 bad_quote'

# "LINE CODE" of every reject import reports (-v: all of them)
import_codes() {
  "$NS_BIN" import -v --db "$1" "$2" >/dev/null 2>"$T/imp.err" || true
  sed -n 's/^notescore: [^:]*:\([0-9]*\):[0-9]*: .* \[\([a-z_0-9]*\)\]$/\1 \2/p' "$T/imp.err" | sort -n
}
# "LINE CODE" of every reject of a POST answer
post_codes() { jq -r '.rejected[] | "\(.line) \(.code)"' | sort -n; }
# TSV -> NDJSON, one object per row, every cell a string (an empty cell
# stays an empty string, which the validator reads like an empty cell)
to_ndjson() {
  jq -R -s -c 'split("\n") | map(select(length > 0)) | (.[0] | split("\t")) as $h
    | .[1:][] | split("\t") as $v | [range(0; $h | length)] | map({($h[.]): $v[.]}) | add' "$1"
}

serve_start "$T"
TSVH=(-H "Content-Type: text/tab-separated-values")
NDH=(-H "Content-Type: application/x-ndjson")

# --- rows.tsv: import, TSV body, NDJSON body
imp=$(import_codes "$T/imp.db" "$T/rows.tsv")
[ "$imp" = "$want_codes" ] || fail "import rejects:
$imp
$(cat "$T/imp.err")"
resp=$(curl -s "${TSVH[@]}" --data-binary @"$T/rows.tsv" "$URL/v1/ratings")
tsv=$(echo "$resp" | post_codes)
[ "$tsv" = "$want_codes" ] || fail "TSV body rejects differ from import:
$tsv
$resp"
[ "$(echo "$resp" | jq .accepted)" = 8 ] || fail "TSV body accepted: $resp"
to_ndjson "$T/rows.tsv" > "$T/rows.ndjson"
[ "$(wc -l < "$T/rows.ndjson")" = 22 ] || fail "ndjson conversion"
resp=$(curl -s "${NDH[@]}" --data-binary @"$T/rows.ndjson" "$URL/v1/ratings")
nd=$(echo "$resp" | jq -r '.rejected[] | "\(.line + 1) \(.code)"' | sort -n) # NDJSON line n = TSV line n+1
[ "$nd" = "$want_codes" ] || fail "NDJSON rejects differ from import:
$nd
$resp"
[ "$(echo "$resp" | jq .accepted)" = 8 ] || fail "NDJSON accepted: $resp"

# the same rows stored, with the same values (NEW_BUCKET as DEFAULT = 0)
q='SELECT r.note_id, p.participant_id, r.created_ms, r.level, r.tags, r.source
   FROM ratings r JOIN participants p ON p.id = r.rater_id ORDER BY 1, 2'
[ "$(sqlite3 "$T/imp.db" "$q")" = "$(sqlite3 "$T/t.db" "$q")" ] ||
  fail "stored rows differ: $(sqlite3 "$T/imp.db" "$q") VS $(sqlite3 "$T/t.db" "$q")"
[ "$(sqlite3 "$T/imp.db" 'SELECT source FROM ratings WHERE note_id = 2')" = 0 ] || fail "NEW_BUCKET"
[ "$(sqlite3 "$T/imp.db" "SELECT length(p.participant_id) FROM ratings r JOIN participants p ON p.id = r.rater_id WHERE note_id = 4")" = 255 ] ||
  fail "255-byte id"

# --- JSON booleans: a flag may be true/false, an id or a time may not
resp=$(printf '%s\n' \
  '{"noteId":true,"raterParticipantId":"b1","createdAtMillis":5,"helpfulnessLevel":"HELPFUL"}' \
  '{"noteId":41,"raterParticipantId":false,"createdAtMillis":5,"helpfulnessLevel":"HELPFUL"}' \
  '{"noteId":42,"raterParticipantId":"b1","createdAtMillis":true,"helpfulnessLevel":"HELPFUL"}' \
  '{"noteId":43,"raterParticipantId":"b1","createdAtMillis":5,"helpfulnessLevel":"HELPFUL","helpfulClear":true}' |
  curl -s "${NDH[@]}" --data-binary @- "$URL/v1/ratings")
[ "$(echo "$resp" | post_codes | tr '\n' ' ')" = '1 boolean 2 boolean 3 boolean ' ] || fail "booleans: $resp"
[ "$(echo "$resp" | jq .accepted)" = 1 ] || fail "boolean flag: $resp"

# --- reader.tsv: BOM, field counts, bad UTF-8, quotes: import = TSV body
imp=$(import_codes "$T/imp2.db" "$T/reader.tsv")
[ "$imp" = "$want_reader" ] || fail "import reader rejects: $imp"
resp=$(curl -s "${TSVH[@]}" --data-binary @"$T/reader.tsv" "$URL/v1/ratings")
[ "$(echo "$resp" | post_codes)" = "$want_reader" ] || fail "TSV body reader rejects: $resp"
[ "$(echo "$resp" | jq .accepted)" = 2 ] || fail "reader accepted: $resp"
[ "$(sqlite3 "$T/imp2.db" 'SELECT count(*) FROM ratings')" = 2 ] || fail "reader import rows"

# --- a duplicated column: the whole file / body refused, naming the column
printf 'noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\thelpfulnessLevel\n51\tq\t5\tHELPFUL\tNOT_HELPFUL\n' > "$T/dup.tsv"
if "$NS_BIN" import --db "$T/imp3.db" "$T/dup.tsv" >/dev/null 2>"$T/dup.err"; then fail "dup import succeeded"; fi
grep -q "dup.tsv:1:5: duplicate column 'helpfulnessLevel' (also column 4)" "$T/dup.err" || fail "dup import: $(cat "$T/dup.err")"
out=$(curl -s -w ' %{http_code}' "${TSVH[@]}" --data-binary @"$T/dup.tsv" "$URL/v1/ratings")
[ "${out##* }" = 400 ] || fail "dup POST: $out"
echo "$out" | grep -q "duplicate column 'helpfulnessLevel' (also column 4)" || fail "dup POST msg: $out"

# --- enrollment: the codes only its columns have
{
  printf 'participantId\tenrollmentState\tmodelingGroup\tmodelingPopulation\ttimestampOfLastEarnOut\n'
  printf 'e1\tearnedIn\t13\tCORE\t\n'              # 2 ok
  printf 'e2\t4\t\t\t1.6e12\n'                     # 3 ok: thrift code, float spelling
  printf 'e3\t9\t\t\t\n'                           # 4 unknown_value
  printf 'e4\tnewUser\t-1\t\t\n'                   # 5 out_of_range
  printf 'e5\tnewUser\t\t0123456789ABCDEF\t\n'     # 6 bad_text
  printf 'e6\tnewUser\t\t\tsoon\n'                 # 7 not_integer
  printf 'e7\t\t\t\t\n'                            # 8 missing
  printf '\tnewUser\t\t\t\n'                       # 9 missing
} > "$T/enroll.tsv"
want_enroll='4 unknown_value
5 out_of_range
6 bad_text
7 not_integer
8 missing
9 missing'
imp=$(import_codes "$T/imp4.db" "$T/enroll.tsv")
[ "$imp" = "$want_enroll" ] || fail "import enrollment rejects: $imp"
resp=$(curl -s "${TSVH[@]}" --data-binary @"$T/enroll.tsv" "$URL/v1/enrollment")
[ "$(echo "$resp" | post_codes)" = "$want_enroll" ] || fail "enrollment TSV body: $resp"
to_ndjson "$T/enroll.tsv" > "$T/enroll.ndjson"
resp=$(curl -s "${NDH[@]}" --data-binary @"$T/enroll.ndjson" "$URL/v1/enrollment")
[ "$(echo "$resp" | jq -r '.rejected[] | "\(.line + 1) \(.code)"' | sort -n)" = "$want_enroll" ] ||
  fail "enrollment NDJSON: $resp"
qe='SELECT p.participant_id, enrollment_state, successful_needed, ts_last_state_change,
    ts_last_earn_out, modeling_population, modeling_group, times_earned_out
    FROM user_enrollment e JOIN participants p ON p.id = e.participant ORDER BY 1'
[ "$(sqlite3 "$T/imp4.db" "$qe")" = "$(sqlite3 "$T/t.db" "$qe")" ] ||
  fail "enrollment rows differ: $(sqlite3 "$T/imp4.db" "$qe") VS $(sqlite3 "$T/t.db" "$qe")"

serve_stop
echo "format_parity: ok"
