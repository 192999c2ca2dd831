#!/usr/bin/env bash
# tools/attack.sh -- the robustness matrix and adversarial sweep behind
# `make attack` (docs/adversarial.md).
#
#   1. No harm: every data shape of `notescore gen --shape` (one community,
#      16 communities with locality 0.9, heavy-tailed activity with power
#      raters, bursty arrivals with several notes per post, benign cliques,
#      all combined), SEEDS seeds, trust on vs off: statuses differing,
#      CRH recall and precision, honest raters flagged by a coordination
#      signal.
#   2. Rings on the combined shape: 3 % of the raters, naive (F = 0) and
#      farming (F = 40), burst and honest timing, inside one community and
#      spread; naive rings of 1, 3 and 5 %.
#   3. Honest work per flip on the combined shape: K x F sweep, on vs off.
#
# Writes the tables to docs/adversarial.md (or $OUT) and, with CHECK=1,
# exits 1 when an acceptance bound fails (tests/e2e/robustness.sh runs it
# small).  The hand-written reading below the marker in $OUT survives.
#
# bash + awk only (no python on CI machines).  Runs from the repo root.
# Knobs (environment): NS_BIN, RATERS, NOTES, RATINGS, SEEDS, SHAPES, KS, FS,
# TARGETS, OUT, CHECK, SWEEP (0 skips part 3), ATTACK_TMP (kept when set).
set -euo pipefail

BIN=${NS_BIN:-build/notescore}
RATERS=${RATERS:-6000}
NOTES=${NOTES:-3000}
RATINGS=${RATINGS:-90000}
SEEDS=${SEEDS:-"1 2 3"}
SHAPES=${SHAPES:-"one communities heavy bursty cliques combined"}
TARGETS=${TARGETS:-15}
KS=${KS:-"60 180 300"}
FS=${FS:-"0 10 40 100 200"}
SWEEP=${SWEEP:-1}
CHECK=${CHECK:-0}
OUT=${OUT:-docs/adversarial.md}
if [ -n "${ATTACK_TMP:-}" ]; then
  T=$ATTACK_TMP; mkdir -p "$T"
else
  T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fi
t_start=$(date +%s)
GEN=(--raters "$RATERS" --notes "$NOTES" --ratings "$RATINGS" -q)
FIRST_SEED=${SEEDS%% *}

score() { # DATA OUTDIR [flags...]
  local d=$1 o=$2; shift 2
  "$BIN" score -n "$d/notes-00000.tsv" -r "$d/ratings-00000.tsv" \
    -s "$d/noteStatusHistory-00000.tsv" -e "$d/userEnrollment-00000.tsv" \
    -o "$o" "$@" 2>/dev/null
}
# jget FILE KEY: a number (or null) from eval's --json output.
jget() { tr -d ' \n' < "$1" | sed -n "s/.*\"$2\":\([-0-9.enul]*\).*/\1/p" | head -1; }
evaljson() { # TRUTH SCORES [SCORES_B] -> path of the json
  local j="$T/eval.$RANDOM$RANDOM.json"
  if [ $# -eq 3 ]; then "$BIN" eval --truth "$1" --scores "$2" --scores-b "$3" --json > "$j"
  else "$BIN" eval --truth "$1" --scores "$2" --json > "$j"; fi
  echo "$j"
}
fails=0
V=""
verdict() { # OK(0/1) TEXT -> V (no subshell, so the count survives)
  if [ "$1" = 1 ]; then V="ok"; else V="**FAIL**"; fails=$((fails + 1)); echo "attack: FAIL $2" >&2; fi
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a + 0 >= b + 0)}'; }

# ---- 1. no harm -------------------------------------------------------------
harm_rows=""
for sh in $SHAPES; do
  for s in $SEEDS; do
    d="$T/$sh.$s"
    "$BIN" gen -o "$d" --seed "$s" --shape "$sh" "${GEN[@]}"
    score "$d" "$d.on"
    score "$d" "$d.off" --no-trust
    jd=$(evaljson "$d" "$d.on" "$d.off"); jon=$(evaljson "$d" "$d.on"); joff=$(evaljson "$d" "$d.off")
    pct=$(jget "$jd" pctDiffer); differ=$(jget "$jd" differ)
    ron=$(jget "$jon" crhRecall); roff=$(jget "$joff" crhRecall)
    pon=$(jget "$jon" crhPrecision); poff=$(jget "$joff" crhPrecision)
    hf=$(jget "$jon" honestFlagged); hr=$(jget "$jon" honestRaters)
    cf=$(jget "$jon" cliqueFlagged); cr=$(jget "$jon" cliqueRaters)
    ok=1
    awk -v p="$pct" -v a="$ron" -v b="$roff" -v c="$pon" -v e="$poff" -v f="$hf" -v r="$hr" 'BEGIN {
      if (p + 0 > 2) exit 1; if (a + 0 < b - 0.01) exit 1; if (c + 0 < e + 0) exit 1;
      if (r > 0 && f / r > 0.005) exit 1 }' || ok=0
    verdict $ok "no harm $sh seed $s"
    harm_rows+="| $sh | $s | $differ | $pct | $roff | $ron | $poff | $pon | $hf / $hr | $cf / $cr | $V |"$'\n'
  done
done

# ---- 2. rings on the combined shape ------------------------------------------
# Targets depend only on the seed and the ring's placement, and a ring adds
# ratings without changing any honest one, so the clean run of the same
# seed judged with a ring run's truth file says where the targets stand
# without the attack.
ring_rows=""
K3=$(( RATERS * 3 / 100 ))
declare -A base_good base_crnh
ring_case() { # NAME K F TIMING PLACE -> a table row, checked
  local name=$1 K=$2 F=$3 tm=$4 pl=$5 s=$FIRST_SEED d="$T/ring" row="" key="$4.$5"
  local pf=(--shape combined --seed "$s" --ring-targets "$TARGETS" --ring-timing "$tm" --ring-place "$pl")
  if [ -z "${base_good[$key]:-}" ]; then
    "$BIN" gen -o "$T/probe" "${GEN[@]}" "${pf[@]}" --ring 1
    for tr in on off; do
      j=$(evaljson "$T/probe" "$T/combined.$s.$tr")
      base_good[$key.$tr]=$(jget "$j" goodTargetsCrh); base_crnh[$key.$tr]=$(jget "$j" badTargetsCrnh)
    done
    base_good[$key]=1
  fi
  "$BIN" gen -o "$d" "${GEN[@]}" "${pf[@]}" --ring "$K" --ring-farm "$F"
  row="| $name | $K | $F | $tm | $pl |"
  for tr in on off; do
    if [ $tr = on ]; then score "$d" "$d.$tr"; else score "$d" "$d.$tr" --no-trust; fi
    j=$(evaljson "$d" "$d.$tr")
    local bad good crnh bg bc rf
    bad=$(jget "$j" badTargetsCrh); good=$(jget "$j" goodTargetsCrh); crnh=$(jget "$j" badTargetsCrnh)
    bg=${base_good[$key.$tr]}; bc=${base_crnh[$key.$tr]}; rf=$(jget "$j" ringFlagged)
    row+=" $bad | $good / $bg | $crnh / $bc |"
    [ $tr = on ] && row+=" $rf |"
    if [ $tr = on ]; then
      local ok=1
      [ "$bad" = 0 ] || ok=0
      awk -v g="$good" -v b="$bg" -v c="$crnh" -v d="$bc" -v n="$F" 'BEGIN {
        if (2 * g < b) exit 1; if (2 * c < d) exit 1 }' || ok=0
      # naive rings: no flip at all (no bad target at CRH, no baseline-CRH
      # good target out of CRH)
      if [ "$F" = 0 ]; then ge "$good" "$bg" || ok=0; fi
      verdict $ok "ring $name K=$K F=$F $tm $pl"
      row+=" $V |"
    fi
  done
  ring_rows+="$row"$'\n'
}
for tm in honest burst; do
  for pl in inside spread; do
    ring_case "3 % naive" "$K3" 0 "$tm" "$pl"
    ring_case "3 % farming" "$K3" 40 "$tm" "$pl"
  done
done
ring_case "1 % naive" $(( RATERS / 100 )) 0 honest inside
ring_case "5 % naive" $(( RATERS * 5 / 100 )) 0 honest inside
ring_case "5 % naive" $(( RATERS * 5 / 100 )) 0 burst spread

# ---- 3. honest work per flip ---------------------------------------------------
: > "$T/sweep.tsv"
if [ "$SWEEP" = 1 ]; then
  s=$FIRST_SEED
  pf=(--shape combined --seed "$s" --ring-targets "$TARGETS" --ring-timing honest --ring-place inside)
  "$BIN" gen -o "$T/probe" "${GEN[@]}" "${pf[@]}" --ring 1
  for tr in on off; do
    j=$(evaljson "$T/probe" "$T/combined.$s.$tr")
    eval "sg_$tr=$(jget "$j" goodTargetsCrh); sb_$tr=$(jget "$j" badTargetsCrh)"
  done
  for F in $FS; do
    for K in $KS; do
      d="$T/sw"
      "$BIN" gen -o "$d" "${GEN[@]}" "${pf[@]}" --ring "$K" --ring-farm "$F"
      for tr in on off; do
        if [ $tr = on ]; then score "$d" "$d.$tr"; base=$sg_on; else score "$d" "$d.$tr" --no-trust; base=$sg_off; fi
        j=$(evaljson "$d" "$d.$tr")
        bad=$(jget "$j" badTargetsCrh); good=$(jget "$j" goodTargetsCrh)
        out=$(( base > good ? base - good : 0 ))
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$K" "$F" "$tr" "$bad" "$out" $(( bad + out )) >> "$T/sweep.tsv"
      done
    done
  done
fi
t_end=$(date +%s)

# ---- the report -------------------------------------------------------------------
FLIP_MIN=${FLIP_MIN:-2}
{
  cat <<EOF
# Robustness matrix and adversarial sweep (\`make attack\`)

Generated by \`tools/attack.sh\` on $(date -u +%Y-%m-%d) in $(( t_end - t_start )) s. Data: \`notescore gen
--shape SHAPE --raters $RATERS --notes $NOTES --ratings $RATINGS --seed S\` (docs/gen.md lists the shapes).
Trust **on** is the default scoring run (the coordination test and its per-note weights, docs/trust.md);
**off** is \`--no-trust\` (the reference-like Core path). Commands: \`notescore score … [--no-trust]\`,
\`notescore eval --truth DIR --scores OUT [--scores-b OUT2] --json\`. Re-run: \`make attack\`.

## 1. No harm: trust on vs off on data without an attack

Bounds (issue 12): statuses differing ≤ 2 %, CRH recall lower by ≤ 0.01, CRH precision not lower, honest
raters outside planted cliques flagged by any coordination signal (\`coordinatedGroupId\` or
\`quasiCliqueId\`) ≤ 0.5 %. Clique members are planted benign cliques: flagging them is allowed, harming
statuses is not.

| shape | seed | statuses differing | % | CRH recall off | on | CRH precision off | on | honest flagged | clique members flagged | verdict |
|---|---|---|---|---|---|---|---|---|---|---|
${harm_rows}
## 2. Rings on the combined shape

Seed $FIRST_SEED, $TARGETS bad targets pushed up (rated HELPFUL by every account) and $TARGETS good targets
pushed down (NOT_HELPFUL). **Timing** \`burst\`: every account rates a target within 15 minutes; \`honest\`:
each rating's delay is drawn like an honest rating's (hours to days). **Place** \`inside\`: all accounts and
targets in one community (the second largest); \`spread\`: accounts over all communities. Columns per trust
setting: bad targets at CRH; good targets at CRH / at CRH without the ring; bad targets at CRNH / at CRNH
without the ring; ring accounts flagged (on). Bounds (on): 0 bad targets at CRH, ≥ 50 % of the
baseline-CRH good targets stay CRH, ≥ 50 % of the baseline-CRNH bad targets stay CRNH; naive rings: no
flip at all (no bad target at CRH and every baseline-CRH good target still CRH).

| ring | K | F | timing | place | on: bad→CRH | good CRH | bad CRNH | flagged | verdict | off: bad→CRH | good CRH | bad CRNH |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
${ring_rows}
EOF
  if [ "$SWEEP" = 1 ]; then
    cat <<EOF
## 3. Honest work needed to flip a note (combined shape, honest timing, inside one community)

For each ring size K: the smallest farming level F of the sweep (F ∈ {$FS}) at which the ring flips at
least $FLIP_MIN targets (bad targets to CRH plus baseline-CRH good targets out of CRH), and the total honest
work K·F. "none": no F tried flipped $FLIP_MIN targets, so the work needed is more than K × the largest F.

| K | min F to flip, trust off | K·F off | min F to flip, trust on | K·F on | work on / off |
|---|---|---|---|---|---|
EOF
    awk -F'\t' -v fm="$FLIP_MIN" -v fmax="$(echo $FS | awk '{print $NF}')" '
      $6>=fm {k=$1 FS $3; if (!(k in m) || $2<m[k]) m[k]=$2}
      {Ks[$1]=1}
      END {n=0; for (k in Ks) ord[n++]=k+0;
        for (i=0;i<n;i++) for (j=i+1;j<n;j++) if (ord[i]>ord[j]) {t=ord[i]; ord[i]=ord[j]; ord[j]=t}
        for (i=0;i<n;i++) {K=ord[i]; kon=K FS "on"; koff=K FS "off";
          fo=(koff in m)?m[koff]:"none"; fn=(kon in m)?m[kon]:"none";
          wo=(koff in m)?K*m[koff]:"—"; wn=(kon in m)?K*m[kon]:"—";
          if (!(koff in m)) r="—";
          else if (wo == 0) r=(kon in m && wn == 0) ? "1×" : "∞";
          else if (kon in m) r=sprintf("%.0f×", wn / wo);
          else r=sprintf("> %.0f×", K * fmax / wo);
          printf "| %d | %s | %s | %s | %s | %s |\n", K, fo, wo, fn, wn, r}}' "$T/sweep.tsv"
    cat <<EOF

Every point of the sweep (flips = bad→CRH + good out):

| K | F | bad→CRH on | off | good out on | off |
|---|---|---|---|---|---|
EOF
    awk -F'\t' '{k=$1 FS $2; if ($3=="on") on[k]=$0; else off[k]=$0; if (!(k in seen)) {seen[k]=1; ord[n++]=k}}
      END {for (i=0;i<n;i++) {k=ord[i]; split(on[k],a,FS); split(off[k],b,FS);
        printf "| %d | %d | %d | %d | %d | %d |\n", a[1], a[2], a[4], b[4], a[5], b[5]}}' "$T/sweep.tsv"
  fi
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
echo "attack: wrote $OUT ($(( t_end - t_start )) s, $fails bound(s) failed)"
if [ "$CHECK" = 1 ] && [ "$fails" -gt 0 ]; then exit 1; fi
exit 0
