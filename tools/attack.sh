#!/usr/bin/env bash
# tools/attack.sh -- the adversarial sweep behind `make attack`.
#
# Plants coordinated rings with `notescore gen` (K accounts, F honest
# "farming" ratings per account, optionally split into two camps), scores
# each data set with trust on and off, and measures with `notescore eval`
# what the ring achieved against its 15 bad and 15 good targets.  Also
# measures collateral damage on clean data (3 seeds, trust on vs off).
# Writes the table and a reading of it to docs/adversarial.md (or $OUT).
#
# bash + awk only (no python on CI machines).  Runs from the repo root.
# Knobs (environment): NS_BIN, RATERS, NOTES, RATINGS, SEED, KS, FS, OUT,
# ATTACK_TMP (kept when set, otherwise a mktemp dir removed at exit).
set -euo pipefail

BIN=${NS_BIN:-build/notescore}
RATERS=${RATERS:-5000}
NOTES=${NOTES:-4000}
RATINGS=${RATINGS:-500000}
SEED=${SEED:-1}
KS=${KS:-"10 30 100 300 1000"}
FS=${FS:-"0 10 50 200 1000"}
OUT=${OUT:-docs/adversarial.md}
if [ -n "${ATTACK_TMP:-}" ]; then
  T=$ATTACK_TMP; mkdir -p "$T"
else
  T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fi
t_start=$(date +%s)

GEN=(--raters "$RATERS" --notes "$NOTES" --ratings "$RATINGS" -q)

score() { # DATA OUTDIR [flags...]
  local d=$1 o=$2; shift 2
  "$BIN" score -n "$d/notes-00000.tsv" -r "$d/ratings-00000.tsv" \
    -s "$d/noteStatusHistory-00000.tsv" -e "$d/userEnrollment-00000.tsv" \
    -o "$o" "$@" 2>/dev/null
}

# jget FILE KEY: a number (or null) from eval's --json output.
jget() {
  tr -d ' \n' < "$1" | sed -n "s/.*\"$2\":\([-0-9.enul]*\).*/\1/p"
}

evaljson() { # TRUTH SCORES [SCORES_B] -> prints path of the json
  local j="$T/eval.$RANDOM$RANDOM.json"
  if [ $# -eq 3 ]; then "$BIN" eval --truth "$1" --scores "$2" --scores-b "$3" --json > "$j"
  else "$BIN" eval --truth "$1" --scores "$2" --json > "$j"; fi
  echo "$j"
}

FLIP_MIN=${FLIP_MIN:-2}
# REPORT_ONLY=1 with ATTACK_TMP of an earlier run re-renders the report from
# its saved figures without scoring anything again.
if [ "${REPORT_ONLY:-0}" = 1 ]; then
  # shellcheck disable=SC1091
  . "$T/state.sh"
else
# ---- clean data: collateral damage (3 seeds) and the targets' baseline ----
clean_rows=""
for s in 1 2 3; do
  "$BIN" gen -o "$T/clean$s" --seed "$s" "${GEN[@]}"
  score "$T/clean$s" "$T/clean$s.on"
  score "$T/clean$s" "$T/clean$s.off" --no-trust
  jd=$(evaljson "$T/clean$s" "$T/clean$s.on" "$T/clean$s.off")
  jon=$(evaljson "$T/clean$s" "$T/clean$s.on")
  joff=$(evaljson "$T/clean$s" "$T/clean$s.off")
  grouped=$(awk -F'\t' 'NR==1{for(i=1;i<=NF;i++)if($i=="coordinatedGroupId")c=i;next} $c!=""{g++} END{print g+0}' \
    "$T/clean$s.on/helpfulness_scores.tsv")
  clean_rows+="| $s | $(jget "$jd" differ) | $(jget "$jd" pctDiffer) | $(jget "$joff" crhPrecision) | $(jget "$jon" crhPrecision) | $(jget "$joff" crhRecall) | $(jget "$jon" crhRecall) | $(jget "$joff" crnhPrecision) | $(jget "$jon" crnhPrecision) | $grouped |"$'\n'
done

# The ring's targets depend only on the seed, and adding a ring changes no
# honest rating, so the clean run of the same seed, judged with a ring
# run's truth file, says where the targets stand without an attack.
"$BIN" gen -o "$T/probe" --seed "$SEED" "${GEN[@]}" --ring 10
jb_on=$(evaljson "$T/probe" "$T/clean$SEED.on")
jb_off=$(evaljson "$T/probe" "$T/clean$SEED.off")
base_good_on=$(jget "$jb_on" goodTargetsCrh);  base_bad_on=$(jget "$jb_on" badTargetsCrh)
base_good_off=$(jget "$jb_off" goodTargetsCrh); base_bad_off=$(jget "$jb_off" badTargetsCrh)
base_crnh_on=$(jget "$jb_on" badTargetsCrnh);   base_crnh_off=$(jget "$jb_off" badTargetsCrnh)

# ---- the sweep -------------------------------------------------------------
# One line per (K, F, split, trust) in $T/sweep.tsv:
#   K F split trust badCrh badCrnh goodCrh goodOut flips
: > "$T/sweep.tsv"
run_case() { # K F SPLIT(0/1) [extra gen flags]
  local K=$1 F=$2 SP=$3 d="$T/ring" sf=() tr j good bad crnh base out
  [ "$SP" = 1 ] && sf=(--ring-split)
  "$BIN" gen -o "$d" --seed "$SEED" "${GEN[@]}" --ring "$K" --ring-farm "$F" "${sf[@]}"
  for tr in on off; do
    if [ $tr = on ]; then score "$d" "$d.$tr"; base=$base_good_on
    else score "$d" "$d.$tr" --no-trust; base=$base_good_off; fi
    j=$(evaljson "$d" "$d.$tr")
    bad=$(jget "$j" badTargetsCrh); crnh=$(jget "$j" badTargetsCrnh); good=$(jget "$j" goodTargetsCrh)
    out=$(( base > good ? base - good : 0 ))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$K" "$F" "$SP" "$tr" "$bad" "$crnh" "$good" "$out" \
      $(( bad + out )) >> "$T/sweep.tsv"
  done
}
for SP in 0 1; do
  for F in $FS; do
    for K in $KS; do
      run_case "$K" "$F" "$SP"
    done
  done
done
# The issue's two named scenarios: naive rings of 5 % of the raters and
# farming rings of 3 % with 40 honest ratings per account.
K5=$(( RATERS * 5 / 100 )); K3=$(( RATERS * 3 / 100 ))
: > "$T/named.tsv"
for SP in 0 1; do
  mv "$T/sweep.tsv" "$T/sweep.keep"
  : > "$T/sweep.tsv"
  run_case "$K5" 0 "$SP"; run_case "$K3" 40 "$SP"
  cat "$T/sweep.tsv" >> "$T/named.tsv"
  mv "$T/sweep.keep" "$T/sweep.tsv"
done

{
  declare -p clean_rows base_good_on base_bad_on base_good_off base_bad_off base_crnh_on base_crnh_off
  echo "t_start=$t_start; t_end=$(date +%s)"
} > "$T/state.sh"
fi

# ---- the report ------------------------------------------------------------
t_end=${t_end:-$(date +%s)}
{
  cat <<EOF
# Adversarial sweep (\`make attack\`)

Generated by \`tools/attack.sh\` on $(date -u +%Y-%m-%d) in $(( t_end - t_start )) s. Data: \`notescore gen
--raters $RATERS --notes $NOTES --ratings $RATINGS --seed $SEED\` plus a ring of K accounts (\`--ring K\`) that
pushes 15 truly unhelpful notes up (rates them HELPFUL) and 15 truly helpful notes down (NOT_HELPFUL), each
target hit by every account within 15 minutes; \`--ring-farm F\` first gives every account F honest-looking
agreeing ratings; \`--ring-split\` makes half the ring look left and half right. K = 10 … 1000 is 0.2 … 20 %
of the $RATERS honest raters. Trust **on** is the default scoring run (coordinated-group filter + trust
propagation + trust-weighted round 2 + refinement pass, docs/trust.md §8); **off** is \`--no-trust\` (the
reference-like Core path). Commands: \`notescore score … [--no-trust]\`, \`notescore eval --truth DIR
--scores OUT --json\`.

Columns: **bad→CRH** = bad targets at CRH (baseline without a ring: $base_bad_on on / $base_bad_off off);
**bad CRNH** = bad targets at CRNH (baseline $base_crnh_on on / $base_crnh_off off); **good CRH** = good targets
still CRH (baseline: $base_good_on on / $base_good_off off — the targets are recent notes, many do not reach CRH
even without an attack); **good out** = baseline-CRH good targets the ring pushed out; **flips** = bad→CRH +
good out.

## Clean data: trust on vs off (collateral damage)

| seed | statuses differing | % | CRH precision off | on | CRH recall off | on | CRNH precision off | on | raters grouped (on) |
|---|---|---|---|---|---|---|---|---|---|
${clean_rows}
## Named scenarios (targets of issue 5)

| K (% of raters) | F | split | trust | bad→CRH | bad CRNH | good CRH | good out | flips |
|---|---|---|---|---|---|---|---|---|
EOF
  awk -F'\t' -v R="$RATERS" '{printf "| %d (%.1f %%) | %d | %s | %s | %d | %d | %d | %d | %d |\n", $1, 100*$1/R, $2, ($3?"yes":"no"), $4, $5, $6, $7, $8, $9}' "$T/named.tsv"
  cat <<EOF

## Sweep

| K | F | split | bad→CRH on | off | bad CRNH on | off | good CRH on | off | good out on | off |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
  awk -F'\t' '{k=$1 FS $2 FS $3; if ($4=="on") on[k]=$0; else off[k]=$0; if (!(k in seen)) {seen[k]=1; ord[n++]=k}}
    END {for (i=0;i<n;i++) {k=ord[i]; split(on[k],a,FS); split(off[k],b,FS);
      printf "| %d | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", a[1], a[2], (a[3]?"yes":"no"), a[5], b[5], a[6], b[6], a[7], b[7], a[8], b[8]}}' "$T/sweep.tsv"
  cat <<EOF

## Honest work needed to flip a note

For each ring size K: the smallest farming level F of the sweep at which the ring flips at least $FLIP_MIN
targets (bad targets to CRH plus baseline-CRH good targets out of CRH), and the total honest work K·F. The
threshold is $FLIP_MIN, not 1, because one good target that is CRH without a ring
drops out of CRH as soon as any farming ratings are added, with trust on or off and for rings as small as
K = 10: that is the farming data moving the model, not the attack. "none" means
no F ≤ $(echo $FS | awk '{print $NF}') flipped anything; the work needed is then more than the largest F
tried.

| K | split | min F to flip, trust off | K·F off | min F to flip, trust on | K·F on | work on / off |
|---|---|---|---|---|---|---|
EOF
  awk -F'\t' -v fm="$FLIP_MIN" -v fmax="$(echo $FS | awk '{print $NF}')" '$9>=fm {k=$1 FS $3 FS $4; if (!(k in m) || $2<m[k]) m[k]=$2}
    {ks[$1 FS $3]=1; Ks[$1]=1}
    END {n=0; for (k in ks) ord[n++]=k;
      # sort numerically by K then split
      for (i=0;i<n;i++) for (j=i+1;j<n;j++) {split(ord[i],a,FS); split(ord[j],b,FS);
        if (a[1]+0>b[1]+0 || (a[1]==b[1] && a[2]>b[2])) {t=ord[i]; ord[i]=ord[j]; ord[j]=t}}
      for (i=0;i<n;i++) {split(ord[i],a,FS); kon=ord[i] FS "on"; koff=ord[i] FS "off";
        fo=(koff in m)?m[koff]:"none"; fn=(kon in m)?m[kon]:"none";
        wo=(koff in m)?a[1]*m[koff]:"—"; wn=(kon in m)?a[1]*m[kon]:"—";
        # on/off work ratio; "> x" when trust on never flipped (its work is
        # more than K times the largest F tried)
        if (!(koff in m)) r="—";
        else if (wo == 0) r="∞";
        else if (kon in m) r=sprintf("%.0f×", wn / wo);
        else r=sprintf("> %.0f×", a[1] * fmax / wo);
        printf "| %d | %s | %s | %s | %s | %s | %s |\n", a[1], (a[2]?"yes":"no"), fo, wo, fn, wn, r}}' "$T/sweep.tsv"
  # The hand-written reading below the marker survives a re-run.
  echo
  if [ -f "$OUT" ] && grep -q '^<!-- reading -->' "$OUT"; then
    sed -n '/^<!-- reading -->/,$p' "$OUT"
  else
    echo '<!-- reading -->'
    echo '## Reading'
    echo
    echo '(to be written from the figures above)'
  fi
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "attack: wrote $OUT ($(( t_end - t_start )) s)"
