#!/usr/bin/env bash
# tests/e2e/guard_filters.sh -- do the tag-outlier filter (TagFilter) and the
# incorrect filter (FilterIncorrect) catch "incorrect but popular" notes
# without firing on sound ones?  On `notescore gen --incorrect-popular 30`
# data (docs/gen.md), two seeds, from scored_notes.tsv and truth_notes.tsv.
# A filter "fired" on a note when TagFilter or FilterIncorrect is in its
# coreActiveRules (the rules record only fires on non-CRNH notes).
#   recall          = incorrect-popular notes with GeneralCRH on which a filter
#                     fired / incorrect-popular notes with GeneralCRH
#   false-fire rate = fires on notes that are not incorrect-popular / scored notes
#   costly rate     = fires on notes that are not incorrect-popular but
#                     reached GeneralCRH (the filter took CRH away) / scored notes
#   helpful loss    = truly helpful GeneralCRH notes a filter fired on /
#                     truly helpful GeneralCRH notes
# Most false fires hit notes that are NMR anyway: the thresholds are the 95th
# percentile of each tag's ratio among CRH notes, and any middling note has
# more not-helpful ratings than a CRH note in every tag.  The costly rate and
# the helpful loss are what the filters cost.  Bounds: recall >= 0.7,
# false-fire rate <= 0.30, costly rate <= 0.03, helpful loss <= 0.15;
# TagFilter implies a non-empty activeFilterTags.
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

for seed in 1 2; do
  "$BIN" gen -o "$T/d$seed" --seed "$seed" --incorrect-popular 30 -q
  "$BIN" score -n "$T/d$seed/notes-00000.tsv" -r "$T/d$seed/ratings-00000.tsv" \
    -s "$T/d$seed/noteStatusHistory-00000.tsv" -e "$T/d$seed/userEnrollment-00000.tsv" \
    -o "$T/o$seed" 2>/dev/null
  awk -F'\t' -v seed="$seed" '
    FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
    FILENAME ~ /truth_notes/ {
      id = $col[FILENAME, "noteId"]
      th[id] = $col[FILENAME, "trueHelpful"]; ip[id] = $col[FILENAME, "isIncorrectPopular"]
      next
    }
    {
      id = $col[FILENAME, "noteId"]; rules = "," $col[FILENAME, "coreActiveRules"] ","
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
      printf "seed %s: incorrect-popular notes with GeneralCRH %d, filtered %d (recall %.3f), %d end CRH\n", seed, ip_crh, ip_fired, recall, ip_final
      printf "seed %s: false fires %d / %d scored (rate %.4f; TagFilter %d, FilterIncorrect %d), on GeneralCRH notes %d (costly rate %.4f)\n", seed, ff, scored, rate, ff_tag, ff_inc, ff_crh, crate
      printf "seed %s: truly helpful GeneralCRH notes filtered %d / %d (helpful loss %.3f)\n", seed, h_fired, h_crh, loss
      ld_loss = h_crh ? h_ld / h_crh : 0
      ip_mean = ip_n ? ip_sum / ip_n : 0; h_mean = h_crh ? h_sum / h_crh : 0
      printf "seed %s: FilterLowDiligence: incorrect-popular GeneralCRH %d / %d, false fires %d / %d scored (on GeneralCRH %d), truly helpful GeneralCRH %d / %d (loss %.3f); mean lowDiligenceIntercept incorrect-popular %.3f vs truly helpful GeneralCRH %.3f\n", seed, ip_ld, ip_crh, ld_ff, scored, ld_ff_crh, h_ld, h_crh, ld_loss, ip_mean, h_mean
      if (no_ld) { print "lowDiligenceIntercept empty on " no_ld " notes with a coreNoteIntercept"; exit 1 }
      if (!(ip_mean > h_mean)) { print "lowDiligenceIntercept does not rank incorrect-popular notes above helpful ones"; exit 1 }
      if (ld_loss > 0.02) { print "FilterLowDiligence helpful loss " ld_loss " > 0.02"; exit 1 }
      if (bad_tags) { print "TagFilter without activeFilterTags on " bad_tags " notes"; exit 1 }
      if (ip_crh < 5) { print "too few incorrect-popular notes reached GeneralCRH to judge"; exit 1 }
      if (recall < 0.7) { print "recall " recall " < 0.7"; exit 1 }
      if (rate > 0.30) { print "false-fire rate " rate " > 0.30"; exit 1 }
      if (crate > 0.03) { print "costly false-fire rate " crate " > 0.03"; exit 1 }
      if (loss > 0.15) { print "helpful loss " loss " > 0.15"; exit 1 }
    }' "$T/d$seed/truth_notes.tsv" "$T/o$seed/scored_notes.tsv"
done

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
stab2=$(count "$T/s2/scored_notes.tsv" decidedBy NmrDueToMinStableCrhTime)
clock2=$(count "$T/s2/note_status_history.tsv" timestampMillisOfNmrDueToMinStableCrhTime $((now + 60000)))
crh3=$(count "$T/s3/scored_notes.tsv" finalRatingStatus CURRENTLY_RATED_HELPFUL)
echo "stabilization: CRH run1 $crh1, run2 $crh2 ($stab2 held, $clock2 clocks started), run3 $crh3"
[ "$crh1" -gt 50 ] && [ "$crh2" -eq 0 ] && [ "$stab2" -ge "$crh1" ] && [ "$clock2" -eq "$stab2" ] &&
  [ "$crh3" -eq "$crh1" ] || { echo "stabilization did not hold and release as expected"; exit 1; }
grep -q NmrDueToMinStableCrhTime "$T/s2/scored_notes.tsv"  # named in metaScorerActiveRules too
