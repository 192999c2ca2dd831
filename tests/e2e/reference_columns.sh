#!/usr/bin/env bash
# tests/e2e/reference_columns.sh -- a notebook written for the reference's
# output reads notescore's: `notescore score` on small gen data writes
# scored_notes.tsv, helpfulness_scores.tsv, note_status_history.tsv and
# aux_note_info.tsv whose headers are the reference's column lists
# (tests/data/reference_columns.txt) in order, followed only by notescore's
# own columns; pandas reads every file with the dtypes the reference's
# output has for the key columns, rule strings are the reference's
# "Name (vX.Y)"; and the new score-DB fields (schema v6) round-trip through
# `score --db`: the TSV written by a --db run equals the TSV run's, and
# note_scores / current_note_status / note_scorers hold the same values
# as scored_notes.tsv.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PY" -c 'import pandas' 2>/dev/null || { echo "pandas is missing (apt-get install python3-pandas)"; exit 1; }

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 20000 --seed 3 -q
in=(-n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" -s "$T/d/noteStatusHistory-00000.tsv"
  -e "$T/d/userEnrollment-00000.tsv")
"$BIN" score "${in[@]}" -o "$T/o" 2>/dev/null
"$BIN" import --db "$T/db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null 2>&1
"$BIN" score --db "$T/db" -o "$T/odb" 2>/dev/null
for f in scored_notes.tsv helpfulness_scores.tsv note_status_history.tsv aux_note_info.tsv; do
  cmp "$T/o/$f" "$T/odb/$f"
done

"$PY" - "$T/o" tests/data/reference_columns.txt "$T/db" <<'EOF'
import re, sqlite3, sys
import numpy as np
import pandas as pd

out, listfile, dbpath = sys.argv[1:4]
ref, cur = {}, None
for line in open(listfile):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    if line.startswith('['):
        cur = line[1:-1]
        ref[cur] = []
    else:
        ref[cur].append(line)
want_n = {'scored_notes.tsv': 96, 'helpfulness_scores.tsv': 47,
          'note_status_history.tsv': 23, 'aux_note_info.tsv': 67}
# notescore's own columns, after the reference's (engine/output.c)
own = {'scored_notes.tsv': ['coreNoteInterceptRound1', 'coreNoteFactor1Round1',
                            'coreProvisionalRatingStatus', 'lowDiligenceIntercept'],
       'helpfulness_scores.tsv': ['raterAgreeRatioWithHarassmentAbusePenalty', 'numRatings',
                                  'raterTrust', 'coordinatedGroupId', 'quasiCliqueId'],
       'note_status_history.tsv': ['abovePcrhThresholdTime'],
       'aux_note_info.tsv': []}
df = {}
for f, cols in ref.items():
    assert len(cols) == want_n[f], (f, len(cols))
    d = pd.read_csv(f'{out}/{f}', sep='\t')
    got = list(d.columns)
    assert got[:len(cols)] == cols, (f, [(i, a, b) for i, (a, b) in enumerate(zip(got, cols)) if a != b][:3])
    assert got[len(cols):] == own[f], (f, got[len(cols):])
    assert len(set(got)) == len(got), f
    df[f] = d
    print(f'{f}: {len(cols)} reference columns in order + {len(own[f])} own, {len(d)} rows')

def dtype(f, col, kind):
    s = df[f][col]
    if kind == 'str':
        ok = s.dtype == object and s.dropna().map(type).eq(str).all()
    elif kind == 'bool':
        ok = s.dtype == bool
    else:
        ok = str(s.dtype) == kind
    assert ok, f'{f}:{col}: dtype {s.dtype}, want {kind}'

sn, hs, nsh, aux = (df[f] for f in ('scored_notes.tsv', 'helpfulness_scores.tsv',
                                    'note_status_history.tsv', 'aux_note_info.tsv'))
# the key columns with the dtypes pandas gives the reference's output
for col, kind in [('noteId', 'int64'), ('coreNoteIntercept', 'float64'),
                  ('coreNoteFactor1', 'float64'), ('finalRatingStatus', 'str'),
                  ('classification', 'str'), ('createdAtMillis', 'int64'),
                  ('metaScorerActiveRules', 'str'), ('decidedBy', 'str'),
                  ('numRatings', 'int64'), ('timestampMillisOfCurrentStatus', 'float64'),
                  ('coreNumFinalRoundRatings', 'float64'), ('coreNoteInterceptMin', 'float64')]:
    dtype('scored_notes.tsv', col, kind)
for col, kind in [('raterParticipantId', 'str'), ('coreRaterIntercept', 'float64'),
                  ('successfulRatingTotal', 'int64'), ('enrollmentState', 'int64'),
                  ('successfulRatingNeededToEarnIn', 'int64'),
                  ('timestampOfLastStateChange', 'int64'), ('modelingGroup', 'float64'),
                  ('numberOfTimesEarnedOut', 'int64'), ('timestampOfLastEarnOut', 'float64')]:
    dtype('helpfulness_scores.tsv', col, kind)
for col, kind in [('noteId', 'int64'), ('noteAuthorParticipantId', 'str'),
                  ('createdAtMillis', 'int64'), ('timestampMillisOfCurrentStatus', 'float64'),
                  ('currentStatus', 'str'), ('currentDecidedBy', 'str'),
                  ('timestampMillisOfMostRecentStatusChange', 'float64')]:
    dtype('note_status_history.tsv', col, kind)
for col, kind in [('noteId', 'int64'), ('createdAtMillis', 'int64'),
                  ('noteAuthorParticipantId', 'str'), ('awaitingBool', 'bool'),
                  ('crhBool', 'bool'), ('crnhBool', 'bool'), ('numRatingsLast28', 'int64'),
                  ('numPopulationSampledRatings', 'int64'), ('helpfulOther', 'int64'),
                  ('notHelpfulNoteNotNeeded', 'int64'), ('lowDiligenceIntercept', 'float64')]:
    dtype('aux_note_info.tsv', col, kind)
# enrollmentState: the reference's thrift code of the input state
thrift = {'earnedIn': 0, 'atRisk': 1, 'earnedOutNoAcknowledge': 2, 'earnedOutAcknowledged': 3,
          'newUser': 4, 'removed': 5, 'apiTestUser': 6, 'apiEarnedIn': 7, 'apiEarnedOut': 8}
enr = pd.read_csv(f'{out}/../d/userEnrollment-00000.tsv', sep='\t').set_index('participantId')
m = hs.set_index('raterParticipantId').join(enr[['enrollmentState']], rsuffix='In', how='inner')
assert len(m) > 0 and (m.enrollmentState == m.enrollmentStateIn.map(thrift)).all()
# the author counts: empty exactly for the raters who authored no note
authored = set(sn.merge(aux[['noteId', 'noteAuthorParticipantId']], on='noteId').noteAuthorParticipantId)
assert (hs.notesCurrentlyRatedHelpful.isna() == ~hs.raterParticipantId.isin(authored)).all()
# aboveHelpfulnessThreshold: True/False (object, NaN for raters without it)
assert set(hs.aboveHelpfulnessThreshold.dropna().unique()) <= {True, False}

# rule strings: "Name (vX.Y)", joined by ","
rule = re.compile(r'^[A-Za-z0-9]+ \(v\d+\.\d+\)$')
for f, col in [('scored_notes.tsv', 'coreActiveRules'), ('scored_notes.tsv', 'metaScorerActiveRules'),
               ('scored_notes.tsv', 'decidedBy'), ('note_status_history.tsv', 'currentDecidedBy')]:
    vals = df[f][col].dropna()
    assert len(vals) > 0, (f, col)
    bad = [v for v in vals for r in v.split(',') if not rule.match(r)]
    assert not bad, (f, col, bad[:3])
assert sn.metaScorerActiveRules.str.startswith('MetaInitialNMR (v1.0)').all()
assert sn.decidedBy.isin(['CoreModel (v1.1)', 'MetaInitialNMR (v1.0)']).sum() > 0

# one row per note in scored_notes, aux_note_info and the history; the
# files agree with each other
assert list(sn.noteId) == list(aux.noteId) == sorted(sn.noteId)
assert (sn.set_index('noteId').decidedBy == nsh.set_index('noteId').currentDecidedBy.reindex(sn.noteId)).all()
assert (aux.awaitingBool == (sn.finalRatingStatus == 'NEEDS_MORE_RATINGS')).all()
assert (aux.crhBool == (sn.finalRatingStatus == 'CURRENTLY_RATED_HELPFUL')).all()
tags = ref['aux_note_info.tsv'][12:34]
assert aux[tags].sum().sum() > 0 and (aux[tags] >= 0).all().all()
# a status history column read back as the reference's value type
assert (nsh.timestampMillisOfCurrentStatus.dropna() % 1 == 0).all()

# the DB: the same values as scored_notes.tsv (schema v6 fields included)
db = sqlite3.connect(dbpath)
q = pd.read_sql_query('SELECT * FROM current_note_status ORDER BY note_id', db)
assert list(q.note_id) == list(sn.noteId)
def same(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-8 * np.maximum(1, np.abs(b)))))
assert same(q.intercept, sn.coreNoteIntercept)
assert same(q.modeling_group, sn.modelingGroup) and same(q.modeling_multi_group, sn.modelingMultiGroup)
assert same(q.intercept_pop, sn.coreNoteInterceptPopulationSampled)
prefix = {'core_with_topics': 'coreWithTopics', 'expansion': 'expansion',
          'expansion_plus': 'expansionPlus', 'group': 'group', 'multi_group': 'multiGroup',
          'topic': 'topic', 'gaussian': 'gaussian',
          'gaussian_core_with_topics': 'gaussianCoreWithTopics'}
for p, c in prefix.items():
    assert same(q[p + '_intercept'], sn[c + 'NoteIntercept']), p
    assert same(q[p + '_factor'], sn[c + 'NoteFactor1']), p
    assert same(q[p + '_n_final_round'], sn[c + 'NumFinalRoundRatings']), p
    assert (q[p + '_status'].fillna('') == sn[c + 'RatingStatus'].fillna('')).all(), p
    if c != 'gaussianCoreWithTopics':
        assert same(q[p + '_intercept_no_high_vol'], sn[c + 'NoteInterceptNoHighVol']), p
assert (q.topic.fillna('') == sn.noteTopic.fillna('')).all()
# DB decided_by is the bare rule name; rule_names.version gives the TSV's
ver = dict(db.execute('SELECT name, version FROM rule_names'))
assert (q.decided_by.map(lambda n: f'{n} (v{ver[n]})') == sn.decidedBy).all()
# note_scorers: nine rows per note; Core's equal the file's core columns
v = pd.read_sql_query("SELECT * FROM note_scorers WHERE scorer = 'core' ORDER BY note_id", db)
assert db.execute('SELECT count(*) FROM note_scorers').fetchone()[0] == 9 * len(sn)
assert same(v.intercept, sn.coreNoteIntercept) and same(v.n_final_round, sn.coreNumFinalRoundRatings)
assert (v.rule_names.fillna('') == sn.coreActiveRules.fillna('')).all()
assert (v.decided == (sn.decidedBy == 'CoreModel (v1.1)').astype(int)).all()
print('DB: current_note_status and note_scorers match scored_notes.tsv')
EOF
echo "reference_columns: ok"
