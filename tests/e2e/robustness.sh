#!/usr/bin/env bash
# tests/e2e/robustness.sh -- the robustness matrix of `make attack`
# (tools/attack.sh) at small size, with its bounds checked (CHECK=1):
#   * every data shape (one community, 16 communities with locality 0.9,
#     heavy-tailed activity with power raters, bursty arrivals, benign
#     cliques, all combined), trust on vs off: statuses differing <= 2 %,
#     CRH recall lower by <= 0.01, CRH precision not lower, honest raters
#     outside planted cliques flagged <= 0.5 %;
#   * on the combined shape, rings of 3 % (naive and F = 40 farming; burst
#     and honest timing; inside one community and spread): 0 bad targets at
#     CRH, >= 50 % of the baseline-CRH good targets and of the
#     baseline-CRNH bad targets kept; naive rings of 1, 3 and 5 %: 0 flips.
# One seed, no work-per-flip sweep (make attack runs three seeds and the
# sweep at 6000 raters).  The table goes to a temporary file.
set -euo pipefail
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
NS_BIN=${NS_BIN:-build/notescore} RATERS=2000 NOTES=1200 RATINGS=30000 SEEDS=1 SWEEP=0 \
  TARGETS=10 CHECK=1 OUT="$T/adversarial.md" ATTACK_TMP="$T/work" bash tools/attack.sh
grep -c '| ok |' "$T/adversarial.md" | awk '{ if ($1 < 17) { print "expected 17 checked rows, got " $1; exit 1 } }'
echo "robustness: $(grep -c '| ok |' "$T/adversarial.md") rows within bounds"
