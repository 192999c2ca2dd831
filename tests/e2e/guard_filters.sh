#!/usr/bin/env bash
# tests/e2e/guard_filters.sh -- do the tag-outlier filter (TagFilter) and the
# incorrect filter (FilterIncorrect) catch "incorrect but popular" notes
# without firing on sound ones?  On `notescore gen --incorrect-popular 30`
# data (docs/gen.md), two seeds, from scored_notes.tsv and truth_notes.tsv.
# A filter "fired" on a note when TagFilter or FilterIncorrect is in its
# coreActiveRules (the rules record only fires on non-CRNH notes).  Notes are
# incorrect-popular, flawed (gen quality < 0 or partisan: their not-helpful
# raters name the same flaw, so a tag filter firing there is right) or sound.
#   recall          = incorrect-popular notes with GeneralCRH on which a filter
#                     fired / incorrect-popular notes with GeneralCRH
#   false-fire rate = fires on sound notes / scored notes
#   costly rate     = fires on sound notes that reached GeneralCRH (the
#                     filter took CRH away) / scored notes
#   helpful loss    = truly helpful GeneralCRH notes a filter fired on /
#                     truly helpful GeneralCRH notes
# Bounds: recall >= 0.7, false-fire rate <= 0.03, costly rate <= 0.01,
# helpful loss <= 0.05; TagFilter implies a non-empty activeFilterTags.
# Seed 1 is also scored with --reference-tag-filter (the reference's rule
# without notescore's share test, docs/guardrails.md §2): its helpful loss
# must be higher, which is what the share test is for.
# FilterLowDiligence (the low-diligence model, docs/guardrails.md §7) is
# counted in the same way and reported on its own line; its bounds: every
# note with a coreNoteIntercept has a lowDiligenceIntercept (both come from
# the round-2 ratings), the intercept ranks the
# incorrect-popular notes above the truly helpful GeneralCRH ones on
# average, and it takes <= 2 % of the truly helpful GeneralCRH notes.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# judge SEED OUTDIR LABEL: the filter figures of one scored run; prints
# "helpful loss" as the last field of its last line.
judge() {
  awk -F'\t' -v seed="$1" -v tag="$3" '
    FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
    FILENAME ~ /truth_notes/ {
      id = $col[FILENAME, "noteId"]
      th[id] = $col[FILENAME, "trueHelpful"]; ip[id] = $col[FILENAME, "isIncorrectPopular"]
      fl[id] = $col[FILENAME, "quality"] < 0 || $col[FILENAME, "isPartisan"] == 1
      next
    }
    {
      id = $col[FILENAME, "noteId"]; rules = "," $col[FILENAME, "coreActiveRules"] ","; gsub(/ \(v[0-9.]+\)/, "", rules)
      if (rules ~ /,TagFilter,/ && $col[FILENAME, "activeFilterTags"] == "") bad_tags++
      if ($col[FILENAME, "coreRatingStatus"] == "") next
      scored++
      fired = rules ~ /,(TagFilter|FilterIncorrect|FilterLowDiligence),/
      ld = rules ~ /,FilterLowDiligence,/
      crh = rules ~ /,GeneralCRH,/
      v = $col[FILENAME, "lowDiligenceIntercept"]
      if (v == "" && $col[FILENAME, "coreNoteIntercept"] != "") no_ld++
      if (ip[id] == 1) {
        if (crh) { ip_crh++; ip_fired += fired; ip_ld += ld }
        if ($col[FILENAME, "finalRatingStatus"] == "CURRENTLY_RATED_HELPFUL") ip_final++
        ip_n++; ip_sum += v
      } else if (fl[id]) {
        fl_fired += fired
      } else if (fired) {
        ff++; ff_crh += crh
        ff_tag += rules ~ /,TagFilter,/; ff_inc += rules ~ /,FilterIncorrect,/
      }
      if (ip[id] != 1 && ld) { ld_ff++; ld_ff_crh += crh }
      if (ip[id] != 1 && th[id] == 1 && crh) { h_crh++; h_fired += fired; h_ld += ld; h_sum += v }
    }
    END {
      recall = ip_crh ? ip_fired / ip_crh : 1
      rate = scored ? ff / scored : 0; crate = scored ? ff_crh / scored : 0
      loss = h_crh ? h_fired / h_crh : 0
      printf "seed %s%s: incorrect-popular notes with GeneralCRH %d, filtered %d (recall %.3f), %d end CRH\n", seed, tag, ip_crh, ip_fired, recall, ip_final
      printf "seed %s%s: fires on sound notes %d / %d scored (false-fire rate %.4f; TagFilter %d, FilterIncorrect %d), on GeneralCRH notes %d (costly rate %.4f); fires on flawed notes %d\n", seed, tag, ff, scored, rate, ff_tag, ff_inc, ff_crh, crate, fl_fired
      ld_loss = h_crh ? h_ld / h_crh : 0
      ip_mean = ip_n ? ip_sum / ip_n : 0; h_mean = h_crh ? h_sum / h_crh : 0
      printf "seed %s%s: FilterLowDiligence: incorrect-popular GeneralCRH %d / %d, false fires %d / %d scored (on GeneralCRH %d), truly helpful GeneralCRH %d / %d (loss %.3f); mean lowDiligenceIntercept incorrect-popular %.3f vs truly helpful GeneralCRH %.3f\n", seed, tag, ip_ld, ip_crh, ld_ff, scored, ld_ff_crh, h_ld, h_crh, ld_loss, ip_mean, h_mean
      printf "seed %s%s: truly helpful GeneralCRH notes filtered %d / %d (helpful loss %.3f)\n", seed, tag, h_fired, h_crh, loss
      if (tag != "") exit 0  # the reference rule is only reported
      if (no_ld) { print "lowDiligenceIntercept empty on " no_ld " notes with a coreNoteIntercept"; exit 1 }
      if (!(ip_mean > h_mean)) { print "lowDiligenceIntercept does not rank incorrect-popular notes above helpful ones"; exit 1 }
      if (ld_loss > 0.02) { print "FilterLowDiligence helpful loss " ld_loss " > 0.02"; exit 1 }
      if (bad_tags) { print "TagFilter without activeFilterTags on " bad_tags " notes"; exit 1 }
      if (ip_crh < 5) { print "too few incorrect-popular notes reached GeneralCRH to judge"; exit 1 }
      if (recall < 0.7) { print "recall " recall " < 0.7"; exit 1 }
      if (rate > 0.03) { print "false-fire rate " rate " > 0.03"; exit 1 }
      if (crate > 0.01) { print "costly false-fire rate " crate " > 0.01"; exit 1 }
      if (loss > 0.05) { print "helpful loss " loss " > 0.05"; exit 1 }
    }' "$T/d$1/truth_notes.tsv" "$2/scored_notes.tsv"
}

score() {  # score SEED OUTDIR [flags]
  local s=$1 o=$2
  shift 2
  "$BIN" score -n "$T/d$s/notes-00000.tsv" -r "$T/d$s/ratings-00000.tsv" \
    -s "$T/d$s/noteStatusHistory-00000.tsv" -e "$T/d$s/userEnrollment-00000.tsv" \
    -o "$o" "$@" 2>/dev/null
}

for seed in 1 2; do
  "$BIN" gen -o "$T/d$seed" --seed "$seed" --incorrect-popular 30 -q
  score "$seed" "$T/o$seed"
  judge "$seed" "$T/o$seed" "" | tee "$T/j$seed"
done
score 1 "$T/r1" --reference-tag-filter
judge 1 "$T/r1" " (--reference-tag-filter)" | tee "$T/jr1"
loss=$(tail -n 1 "$T/j1" | sed 's/.*helpful loss \([0-9.]*\)).*/\1/')
rloss=$(tail -n 1 "$T/jr1" | sed 's/.*helpful loss \([0-9.]*\)).*/\1/')
awk -v a="$loss" -v b="$rloss" 'BEGIN { exit !(b > a) }' ||
  { echo "--reference-tag-filter helpful loss $rloss not above the default $loss"; exit 1; }

# Stabilization (NmrDueToMinStableCrhTime) across runs: pretend every note
# was NMR and unlocked in the previous run (currentStatus, lockedStatus and
# its timestamp rewritten in run 1's history; a lock would win over it).
# Run 2 holds every CRH at NMR and starts the clock; run 3, 61 minutes later,
# releases them all (no pflip model: only the > 60 min branch releases).
d="$T/d1"
now=$("$BIN" gen --help | sed -n 's/.*--epoch-millis.*default \([0-9]*\).*/\1/p')
run() { "$BIN" score -n "$d/notes-00000.tsv" -r "$d/ratings-00000.tsv" -s "$1" \
  -e "$d/userEnrollment-00000.tsv" -o "$2" --epoch-millis "$3" 2>/dev/null; }
count() { awk -F'\t' -v c="$2" -v v="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
  $k == v { n++ } END { print n + 0 }' "$1"; }
run "$d/noteStatusHistory-00000.tsv" "$T/s1" "$now"
awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 { $7 = "NEEDS_MORE_RATINGS"; $10 = ""; $11 = "" } { print }' \
  "$T/s1/note_status_history.tsv" > "$T/h1.tsv"
run "$T/h1.tsv" "$T/s2" $((now + 60000))
run "$T/s2/note_status_history.tsv" "$T/s3" $((now + 60000 + 61 * 60000))
crh1=$(count "$T/s1/scored_notes.tsv" finalRatingStatus CURRENTLY_RATED_HELPFUL)
crh2=$(count "$T/s2/scored_notes.tsv" finalRatingStatus CURRENTLY_RATED_HELPFUL)
stab2=$(count "$T/s2/scored_notes.tsv" decidedBy "NmrDueToMinStableCrhTime (v1.0)")
# the history's nullable timestamps are floats, as in the reference
clock2=$(count "$T/s2/note_status_history.tsv" timestampMillisOfNmrDueToMinStableCrhTime "$((now + 60000)).0")
crh3=$(count "$T/s3/scored_notes.tsv" finalRatingStatus CURRENTLY_RATED_HELPFUL)
echo "stabilization: CRH run1 $crh1, run2 $crh2 ($stab2 held, $clock2 clocks started), run3 $crh3"
[ "$crh1" -gt 50 ] && [ "$crh2" -eq 0 ] && [ "$stab2" -ge "$crh1" ] && [ "$clock2" -eq "$stab2" ] &&
  [ "$crh3" -eq "$crh1" ] || { echo "stabilization did not hold and release as expected"; exit 1; }
grep -q NmrDueToMinStableCrhTime "$T/s2/scored_notes.tsv"  # named in metaScorerActiveRules too
