/*
** text/topics.c -- note topics (text/topics.h), as the reference assigns
** them (topic_model.py at 08c656b; reference-algorithm.md §4.10):
**
**   1. posts: the summaries of the notes on one post (tweetId) joined with
**      " " (ds note order); a summary pandas reads as NA counts as "";
**      URLs are cut to their ASCII words of 4+ letters unless they name
**      help.x.com or x.com/tos; '_' and '/' become spaces
**      (_prepare_post_text, _filter_url_tokens);
**   2. seed labels: each topic's seed terms as a regex on the lower-cased
**      post text, with the reference's boundary rule (a term without its own
**      \b/\s and without "\." must follow whitespace or the start); one
**      topic matching labels the post, several make it "conflicted" and
**      unlabelled (_compile_regex, _make_seed_labels);
**   3. classifier: sklearn's CountVectorizer over the reference's tokenizer
**      (words of 2+ \w characters, help.x.com / x.com/tos as one token,
**      after lower-casing and accent stripping), tokens containing a seed
**      term dropped, min_df 25, max_df max(1000, 0.25 * #posts); TF-IDF
**      with smooth idf and L2 rows; logistic regression with C = 1 (the
**      multinomial model for 3+ classes, the binary one for 2), trained on
**      the unconflicted posts with their seed labels (class 0 =
**      unassigned);
**   4. merge: the prediction is the most probable class, except that a
**      post keeps its seed label L while 1 - p(L) <= 0.99 (0.98 for
**      InDimensionTwo), and a conflicted post takes its most probable
**      matched topic under the same test (_merge_predictions_and_labels);
**   5. every note takes its post's topic.
**
** The classifier is fitted by L-BFGS (10 pairs, backtracking line search)
** from zero with sklearn's stopping rule (gradient 1e-4, or a relative
** decrease below 2.2e-9); the objective is strictly convex, so both fits
** end near the same unique optimum, though not at the same point: a post
** whose probability sits on a threshold of step 4 may differ (on a
** synthetic 280 000-note corpus, 15 notes did; a fit to the optimum
** itself did no better).
**
** Differences from the reference, all deliberate and small:
**   - when no token survives the document-frequency limits, or the posts
**     show fewer than two classes, sklearn raises and the reference stops;
**     here the seed labels are the result (conflicted posts unassigned);
**   - the reference's accuracy assertion (balanced accuracy > 0.35) is not
**     made;
**   - Unicode: \w, \s, lower-casing and accent stripping follow the tables
**     of unidata.c (Python 3.11, Unicode 14, final sigma included), except
**     that Hangul syllables are kept as syllables (sklearn decomposes them
**     to jamo, a renaming that changes no token boundary);
**   - stop words: a vocabulary entry is no feature when it contains a
**     blocked string; the reference lists the entries of the whole corpus
**     that do and drops them while counting: the same features;
**   - the notes of a post are joined in noteId order, the reference's in
**     file order (about the same: ids grow with time); only a multi-word
**     term split across two notes ("terms" | "of service") could tell.
**
** Threads: steps 1-3 run over posts on the pool in fixed chunks; token
** interning and every sum are in post order: byte-identical results for
** any thread count.  Memory: the posts' text one window at a time, the
** vocabulary, and the sparse TF-IDF matrix of the kept tokens.
*/
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "topics_int.h"

/* ---- the reference's seed terms (topic_model.py:35-82) ------------------ */

/* In the reference's Python regex syntax; translated below. */
static const char *const seed_terms[NS_TOPIC_COUNT][14] = {
    [NS_TOPIC_UKRAINE_CONFLICT] = {"ukrain", "russia", "kiev", "kyiv", "moscow", "zelensky",
                                   "putin", NULL},
    [NS_TOPIC_GAZA_CONFLICT] = {"israel", "palestin", "gaza", "jerusalem", "\\bhamas\\b", NULL},
    [NS_TOPIC_MESSI_RONALDO] = {"messi\\b", "ronaldo", NULL},
    [NS_TOPIC_SCAMS] = {"scam", "undisclosed\\sad", "terms\\sof\\sservice", "help\\.x\\.com",
                        "x\\.com/tos", "engagement\\sfarm", "spam", "gambling", "apostas",
                        "apuestas", "dropship", "drop\\sship", "promotion", NULL},
    [NS_TOPIC_IN_DIMENSION_TWO] = {"\\bugc\\b", "\\bgc\\b", "\\bobc\\b", "\\bsc\\b",
                                   "\\bsc[,\\s]+st\\b", "\\bst[,\\s]+sc\\b",
                                   "\xe0\xa4\x86\xe0\xa4\xb0\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7"
                                   "\xe0\xa4\xa3", /* आरक्षण */
                                   NULL}};

/* topic_model.py:94-96 */
#define UNASSIGNED_THRESHOLD 0.99
#define IN_DIM_TWO_THRESHOLD 0.98
/* CountVectorizer(min_df=25, max_df=max(1000, int(0.25 * #posts))) */
#define MIN_DF 25
#define MAX_DF_FLOOR 1000
/* LogisticRegression() defaults */
#define LR_C 1.0
/* The stop of sklearn's lbfgs (scipy L-BFGS-B with gtol = tol = 1e-4 and
** its default factr 1e7, i.e. a relative decrease of the objective below
** 1e7 * DBL_EPSILON): the fit stops as close to the optimum as the
** reference's does.  (A fit to the optimum itself takes twice the
** iterations and agrees with the reference on no more notes.) */
#define LR_GTOL 1e-4
#define LR_FTOL 2.220446049250313e-09

/* pandas' default NA spellings (1.5): such a summary is NaN, then "". */
static int is_na_text(const char *s, size_t n) {
  static const char *const na[] = {"-1.#IND", "1.#QNAN", "1.#IND", "-1.#QNAN", "#N/A N/A",
                                   "#N/A", "N/A", "n/a", "NA", "<NA>", "#NA", "NULL", "null",
                                   "NaN", "-NaN", "nan", "-nan"};
  if (n > 8) return 0;
  for (size_t i = 0; i < sizeof na / sizeof *na; i++)
    if (strlen(na[i]) == n && memcmp(na[i], s, n) == 0) return 1;
  return 0;
}

/* ---- buffers, UTF-8, character classes ---------------------------------- */

void ns__tbuf_free(ns__tbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static int tb_reserve(ns__tbuf *b, size_t more) {
  if (more <= b->cap - b->n) return 0;
  size_t nc = b->cap ? b->cap : 256;
  while (nc - b->n < more) nc *= 2;
  char *p = ns_realloc(b->p, nc);
  if (!p) return NS_ENOMEM;
  b->p = p;
  b->cap = nc;
  return 0;
}

static int tb_put(ns__tbuf *b, const char *s, size_t n) {
  if (tb_reserve(b, n + 1)) return NS_ENOMEM;
  if (n) memcpy(b->p + b->n, s, n); /* s may be NULL when n == 0 (no summary) */
  b->n += n;
  b->p[b->n] = '\0';
  return 0;
}

static int tb_putc(ns__tbuf *b, char c) { return tb_put(b, &c, 1); }

/* Code point at s[0..n) (n > 0) and its length; a byte that starts no valid
** sequence reads as itself (U+0080..U+00FF would be wrong, so as U+FFFD). */
static uint32_t u8_dec(const unsigned char *s, size_t n, size_t *len) {
  unsigned c = s[0];
  size_t k;
  uint32_t cp;
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; }
  else { *len = 1; return 0xFFFD; }
  if (n < k + 1) { *len = 1; return 0xFFFD; }
  for (size_t j = 1; j <= k; j++) {
    if ((s[j] & 0xc0) != 0x80) { *len = 1; return 0xFFFD; }
    cp = (cp << 6) | (s[j] & 0x3f);
  }
  *len = k + 1;
  return cp;
}

/* Python's str.isspace() (what \s matches in a str pattern). */
static int is_space(uint32_t c) {
  if (c < 0x80) return (c >= 9 && c <= 13) || (c >= 28 && c <= 32);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c < r[mid][0]) hi = mid;
    else if (c > r[mid][1]) lo = mid + 1;
    else return 1;
  }
  return 0;
}

/* Python's \w. */
static int is_word(uint32_t c) {
  if (c < 0x80)
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return in_ranges(ns__uni_word, ns__uni_word_n, c);
}

/* sklearn's preprocessing of a non-ASCII code point: the fold entry, or
** NULL when it maps to itself. */
static const ns__uni_fold *fold_of(uint32_t c) {
  size_t lo = 0, hi = ns__uni_fold_n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c < ns__uni_fold_tab[mid].cp) hi = mid;
    else if (c > ns__uni_fold_tab[mid].cp) lo = mid + 1;
    else return &ns__uni_fold_tab[mid];
  }
  return NULL;
}

static int has_prefix(const char *s, size_t n, const char *lit) {
  size_t k = strlen(lit);
  return n >= k && memcmp(s, lit, k) == 0;
}

/* ---- step 1: the post text ------------------------------------------------ */

/* re.sub(r"https?://[^\s)\]]+", replace_url, text): the URL at s (or 0). */
static size_t url_len(const char *s, size_t n) {
  size_t p;
  if (has_prefix(s, n, "https://")) p = 8;
  else if (has_prefix(s, n, "http://")) p = 7;
  else return 0;
  size_t start = p;
  while (p < n) {
    size_t l;
    uint32_t c = u8_dec((const unsigned char *)s + p, n - p, &l);
    if (is_space(c) || c == ')' || c == ']') break;
    p += l;
  }
  return p > start ? p : 0;
}

static int put_url(ns__tbuf *out, const char *u, size_t n) {
  /* URLs that are seed terms stay whole (case-sensitive search) */
  if (memmem(u, n, "help.x.com", 10) || memmem(u, n, "x.com/tos", 9)) return tb_put(out, u, n);
  /* else the runs of [a-zA-Z] of 4+ letters, joined by " " */
  int first = 1;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && ((u[j] >= 'a' && u[j] <= 'z') || (u[j] >= 'A' && u[j] <= 'Z'))) j++;
    if (j - i >= 4) {
      if (!first && tb_putc(out, ' ')) return NS_ENOMEM;
      if (tb_put(out, u + i, j - i)) return NS_ENOMEM;
      first = 0;
    }
    i = j > i ? j : i + 1;
  }
  return 0;
}

int ns__topics_prepare(const char *s, size_t n, ns__tbuf *out) {
  out->n = 0;
  if (tb_reserve(out, n + 1)) return NS_ENOMEM;
  out->p[0] = '\0';
  for (size_t i = 0; i < n;) {
    size_t u = s[i] == 'h' ? url_len(s + i, n - i) : 0;
    if (u) {
      if (put_url(out, s + i, u)) return NS_ENOMEM;
      i += u;
      continue;
    }
    if (tb_putc(out, s[i] == '_' || s[i] == '/' ? ' ' : s[i])) return NS_ENOMEM;
    i++;
  }
  /* the replacement may have produced '_' or '/' only inside kept URLs */
  for (size_t i = 0; i < out->n; i++)
    if (out->p[i] == '_' || out->p[i] == '/') out->p[i] = ' ';
  return 0;
}

/* ---- step 2: seed labels ------------------------------------------------- */

struct ns__seed_re {
  regex_t re[NS_TOPIC_COUNT];   /* the ASCII terms, on seed_text(.., 0) */
  regex_t reu[NS_TOPIC_COUNT];  /* the others (आरक्षण), on seed_text(.., 1) */
  int ok[NS_TOPIC_COUNT], oku[NS_TOPIC_COUNT];
};

/* One reference term as POSIX ERE over the canonical text of seed_text()
** (every whitespace character is ' ' there, so \s is ' ').  Boundary rule
** of _compile_regex: a term with "\." (a URL) or starting with \b / \s is
** used as is; any other must follow whitespace or the start. */
static int term_ere(ns__tbuf *b, const char *t) {
  if (!strstr(t, "\\.") && strncmp(t, "\\b", 2) != 0 && strncmp(t, "\\s", 2) != 0 &&
      tb_put(b, "(^| )", 5))
    return NS_ENOMEM;
  for (const char *p = t; *p; p++) {
    if (p[0] == '\\' && p[1] == 's') {
      if (tb_putc(b, ' ')) return NS_ENOMEM;
      p++;
    } else if (p[0] == '\\' && p[1]) {
      if (tb_put(b, p, 2)) return NS_ENOMEM; /* \b, \. */
      p++;
    } else if (tb_putc(b, *p)) {
      return NS_ENOMEM;
    }
  }
  return 0;
}

static int is_ascii(const char *t) {
  for (; *t; t++)
    if ((unsigned char)*t >= 0x80) return 0;
  return 1;
}

/* The terms of topic t that are (ascii = 1) or are not ASCII, as one ERE
** alternation; compiled into *re (*ok = 1) when there is any. */
static int compile_terms(int t, int ascii, regex_t *re, int *ok, ns__tbuf *b) {
  int any = 0;
  b->n = 0;
  for (int i = 0; seed_terms[t][i]; i++) {
    if (is_ascii(seed_terms[t][i]) != ascii) continue;
    if ((any && tb_putc(b, '|')) || tb_putc(b, '(') || term_ere(b, seed_terms[t][i]) ||
        tb_putc(b, ')'))
      return NS_ENOMEM;
    any = 1;
  }
  if (!any) return 0;
  if (regcomp(re, b->p, REG_EXTENDED | REG_NOSUB) != 0) return NS_ENOMEM;
  *ok = 1;
  return 0;
}

int ns__seed_re_new(ns__seed_re **out) {
  ns__seed_re *re = ns_calloc(1, sizeof *re);
  ns__tbuf b = {0};
  int rc = 0;
  *out = NULL;
  if (!re) return NS_ENOMEM;
  for (int t = 1; t < NS_TOPIC_COUNT && !rc; t++) {
    rc = compile_terms(t, 1, &re->re[t], &re->ok[t], &b);
    if (!rc) rc = compile_terms(t, 0, &re->reu[t], &re->oku[t], &b);
  }
  ns__tbuf_free(&b);
  if (rc) {
    ns__seed_re_free(re);
    return rc;
  }
  *out = re;
  return 0;
}

void ns__seed_re_free(ns__seed_re *re) {
  if (!re) return;
  for (int t = 0; t < NS_TOPIC_COUNT; t++) {
    if (re->ok[t]) regfree(&re->re[t]);
    if (re->oku[t]) regfree(&re->reu[t]);
  }
  free(re);
}

/* text.lower() as the seed regexes see it, in bytes a POSIX regex in the C
** locale matches as Python would: ASCII lower-cased, every whitespace
** character as ' ', other non-ASCII characters as '_' when Python counts
** them as \w and '#' otherwise (no term holds either), so \b and \s
** behave as in Python.  The few non-ASCII characters that lower() or
** re.IGNORECASE turn into a term's ASCII letter are mapped to it.  With
** verbatim set, non-ASCII characters other than whitespace stay as they are
** instead: the text for the non-ASCII terms, which hold no \b. */
static int seed_text(const char *s, size_t n, int verbatim, ns__tbuf *out) {
  out->n = 0;
  if (tb_reserve(out, n + 2)) return NS_ENOMEM;
  for (size_t i = 0; i < n;) {
    size_t l;
    uint32_t c = u8_dec((const unsigned char *)s + i, n - i, &l);
    char ch;
    if (c < 0x80) {
      ch = is_space(c) ? ' ' : c >= 'A' && c <= 'Z' ? (char)(c + 32) : c == 0 ? '#' : (char)c;
    } else if (is_space(c)) {
      ch = ' ';
    } else if (verbatim) {
      if (tb_put(out, s + i, l)) return NS_ENOMEM;
      i += l;
      continue;
    } else if (c == 0x130) { /* İ.lower() == "i" + U+0307 */
      if (tb_put(out, "i#", 2)) return NS_ENOMEM;
      i += l;
      continue;
    } else if (c == 0x131) {
      ch = 'i'; /* ı ~ i under re.IGNORECASE */
    } else if (c == 0x17F) {
      ch = 's'; /* ſ ~ s */
    } else if (c == 0x212A) {
      ch = 'k'; /* Kelvin sign */
    } else {
      ch = is_word(c) ? '_' : '#';
    }
    if (tb_putc(out, ch)) return NS_ENOMEM;
    i += l;
  }
  if (tb_reserve(out, 1)) return NS_ENOMEM;
  out->p[out->n] = '\0';
  return 0;
}

int ns__seed_mask(ns__seed_re *re, const char *s, size_t n, ns__tbuf *scratch) {
  int mask = 0, high = 0;
  if (seed_text(s, n, 0, scratch)) return NS_ENOMEM;
  for (int t = 1; t < NS_TOPIC_COUNT; t++)
    if (re->ok[t] && regexec(&re->re[t], scratch->p, 0, NULL, 0) == 0) mask |= 1 << t;
  for (size_t i = 0; i < n && !high; i++) high = (unsigned char)s[i] >= 0x80;
  if (!high) return mask; /* no non-ASCII term can match */
  if (seed_text(s, n, 1, scratch)) return NS_ENOMEM;
  for (int t = 1; t < NS_TOPIC_COUNT; t++)
    if (!(mask >> t & 1) && re->oku[t] && regexec(&re->reu[t], scratch->p, 0, NULL, 0) == 0)
      mask |= 1 << t;
  return mask;
}

/* ---- step 3a: tokens ----------------------------------------------------- */

/* The reference's stop strings (_get_stop_words): every term with its \s
** and \b removed, and with every backslash pair turned into '.'.  Built
** once (lazily, under a once-flag: the table is constant afterwards). */
#define MAX_BLOCKED 80
static char blocked[MAX_BLOCKED][40];
static size_t blocked_len[MAX_BLOCKED];
static int n_blocked;
static pthread_once_t blocked_once = PTHREAD_ONCE_INIT;

static void add_blocked(const char *s, size_t n) {
  for (int i = 0; i < n_blocked; i++)
    if (blocked_len[i] == n && memcmp(blocked[i], s, n) == 0) return;
  if (n_blocked < MAX_BLOCKED && n < sizeof blocked[0] && n > 0) {
    memcpy(blocked[n_blocked], s, n);
    blocked_len[n_blocked++] = n;
  }
}

static void build_blocked(void) {
  for (int t = 1; t < NS_TOPIC_COUNT; t++)
    for (int i = 0; seed_terms[t][i]; i++) {
      const char *p = seed_terms[t][i];
      char a[40], b[40];
      size_t na = 0, nb = 0;
      for (size_t j = 0; p[j] && na < sizeof a && nb < sizeof b; j++) {
        if (p[j] == '\\' && (p[j + 1] == 's' || p[j + 1] == 'b')) {
          /* re.sub(r"\\[sb]", "", t) */
        } else {
          a[na++] = p[j];
        }
        if (p[j] == '\\' && p[j + 1] && p[j + 1] != '\n') {
          b[nb++] = '.'; /* re.sub(r"\\.", ".", t) */
        } else {
          b[nb++] = p[j];
        }
        if (p[j] == '\\' && p[j + 1]) {
          if (p[j + 1] != 's' && p[j + 1] != 'b') a[na++] = p[j + 1];
          j++;
        }
      }
      add_blocked(a, na);
      add_blocked(b, nb);
    }
}

static int is_stop(const char *t, size_t n) {
  for (int i = 0; i < n_blocked; i++)
    if (blocked_len[i] <= n && memmem(t, n, blocked[i], blocked_len[i])) return 1;
  return 0;
}

/* str.lower() of U+03A3 at s[i]: final sigma when a cased letter precedes
** it and none follows, case-ignorable characters skipped both ways
** (CPython's handle_capital_sigma). */
static int final_sigma(const char *s, size_t n, size_t i) {
  const unsigned char *u = (const unsigned char *)s;
  size_t j = i, l;
  uint32_t c = 0;
  int found = 0;
  while (j > 0) {
    size_t k = j - 1;
    while (k > 0 && (u[k] & 0xc0) == 0x80) k--;
    c = u8_dec(u + k, j - k, &l);
    j = k;
    if (!in_ranges(ns__uni_ignorable, ns__uni_ignorable_n, c)) {
      found = 1;
      break;
    }
  }
  if (!found || !in_ranges(ns__uni_cased, ns__uni_cased_n, c)) return 0;
  for (j = i + 2; j < n; j += l) { /* U+03A3 is two bytes */
    c = u8_dec(u + j, n - j, &l);
    if (!in_ranges(ns__uni_ignorable, ns__uni_ignorable_n, c))
      return !in_ranges(ns__uni_cased, ns__uni_cased_n, c);
  }
  return 1;
}

/* sklearn's preprocessing: lower-case and strip accents, per code point
** (and Greek capital sigma by its context, as str.lower() does). */
static int fold_text(const char *s, size_t n, ns__tbuf *out) {
  out->n = 0;
  if (tb_reserve(out, n + 1)) return NS_ENOMEM;
  for (size_t i = 0; i < n;) {
    size_t l;
    unsigned char c0 = (unsigned char)s[i];
    if (c0 < 0x80) {
      if (tb_putc(out, c0 >= 'A' && c0 <= 'Z' ? (char)(c0 + 32) : (char)c0)) return NS_ENOMEM;
      i++;
      continue;
    }
    uint32_t c = u8_dec((const unsigned char *)s + i, n - i, &l);
    const ns__uni_fold *f;
    if (c == 0x3A3) {
      if (tb_put(out, final_sigma(s, n, i) ? "\xcf\x82" : "\xcf\x83", 2)) return NS_ENOMEM;
      i += l;
      continue;
    }
    f = fold_of(c);
    if (f ? tb_put(out, ns__uni_fold_str + f->off, f->len) : tb_put(out, s + i, l))
      return NS_ENOMEM;
    i += l;
  }
  return 0;
}

/* The seed-URL alternatives of custom_tokenizer at s: (?:https?://)?(U)
** (?:/[^\s]+)? for U in help.x.com, x.com/tos.  Returns the match length
** and sets *tok / *tl to U, or 0. */
static size_t seed_url_at(const char *s, size_t n, const char **tok, size_t *tl) {
  static const char *const us[] = {"help.x.com", "x.com/tos"};
  for (int k = 0; k < 2; k++) {
    size_t pre = has_prefix(s, n, "https://") ? 8 : has_prefix(s, n, "http://") ? 7 : 0;
    size_t ul = strlen(us[k]), p;
    if (pre && has_prefix(s + pre, n - pre, us[k])) p = pre + ul;
    else if (has_prefix(s, n, us[k])) p = ul;
    else continue;
    if (p + 1 < n && s[p] == '/') {
      size_t q = p + 1, l;
      while (q < n && !is_space(u8_dec((const unsigned char *)s + q, n - q, &l))) q += l;
      if (q > p + 1) p = q;
    }
    *tok = us[k];
    *tl = ul;
    return p;
  }
  return 0;
}

long ns__topics_tokens(const char *s, size_t n, int drop_stop, ns__tbuf *out) {
  ns__tbuf f = {0};
  long count = 0;
  int prev_word = 0;
  pthread_once(&blocked_once, build_blocked);
  out->n = 0;
  if (fold_text(s, n, &f)) return NS_ENOMEM;
  for (size_t i = 0; i < f.n;) {
    const char *tok;
    size_t tl, l, m;
    uint32_t c;
    /* a seed URL at a position the scan reaches wins over the word rule */
    if ((m = seed_url_at(f.p + i, f.n - i, &tok, &tl)) != 0) {
      if (!drop_stop || !is_stop(tok, tl)) {
        if (tb_put(out, tok, tl) || tb_putc(out, '\0')) goto oom;
        count++;
      }
      i += m;
      prev_word = is_word((unsigned char)f.p[i - 1]); /* the match ends in ASCII */
      continue;
    }
    c = u8_dec((const unsigned char *)f.p + i, f.n - i, &l);
    if (is_word(c) && !prev_word) {
      /* \b\w\w+\b: the whole run of word characters, 2+ of them */
      size_t j = i + l, cps = 1;
      for (;;) {
        size_t l2;
        if (j >= f.n || !is_word(u8_dec((const unsigned char *)f.p + j, f.n - j, &l2))) break;
        j += l2;
        cps++;
      }
      if (cps >= 2) {
        if (!drop_stop || !is_stop(f.p + i, j - i)) {
          if (tb_put(out, f.p + i, j - i) || tb_putc(out, '\0')) goto oom;
          count++;
        }
        i = j;
        prev_word = 1;
        continue;
      }
    }
    prev_word = is_word(c);
    i += l;
  }
  ns__tbuf_free(&f);
  return count;
oom:
  ns__tbuf_free(&f);
  return NS_ENOMEM;
}

/* ---- step 3b: logistic regression ---------------------------------------- */

/* Objective and gradient over the documents, in fixed chunks (partials
** added in chunk order).  k_out = 1: binary (softplus of z, label y == 1);
** else the multinomial model. */
typedef struct lr_ctx {
  const uint64_t *rowptr;
  const int32_t *col;
  const double *val;
  const uint32_t *rows;  /* document i is CSR row rows[i] (NULL: row i) */
  const uint8_t *y;
  size_t n, d;
  int k;                 /* k_out */
  const double *theta;
  double *part_f;        /* per chunk */
  double *part_g;        /* per chunk: k * (d + 1) */
} lr_ctx;

/* One chunk for K classes; inlined with K a constant (lr_chunk), so the
** per-feature loops over the K weights are unrolled. */
static inline __attribute__((always_inline)) void lr_chunk_k(lr_ctx *L, size_t chunk, size_t b,
                                                             size_t e, const size_t K) {
  double *g = L->part_g + chunk * K * (L->d + 1), f = 0, z[NS_TOPIC_COUNT], r[NS_TOPIC_COUNT];
  const double *bias = L->theta + L->d * K;
  double *gb = g + L->d * K;
  memset(g, 0, K * (L->d + 1) * sizeof *g);
  for (size_t i = b; i < e; i++) {
    size_t row = L->rows ? L->rows[i] : i;
    uint64_t p0 = L->rowptr[row], p1 = L->rowptr[row + 1];
    /* theta is feature-major: the K weights of a feature are adjacent */
    for (size_t c = 0; c < K; c++) z[c] = bias[c];
    for (uint64_t p = p0; p < p1; p++) {
      const double *w = L->theta + (size_t)L->col[p] * K;
      double v = L->val[p];
      for (size_t c = 0; c < K; c++) z[c] += w[c] * v;
    }
    if (K == 1) {
      double t = z[0], yy = L->y[i] == 1;
      /* log(1 + e^t) - y t, and its derivative sigmoid(t) - y */
      f += (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) - yy * t;
      r[0] = (t >= 0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t))) - yy;
    } else {
      double m = z[0], s = 0;
      for (size_t c = 1; c < K; c++) m = z[c] > m ? z[c] : m;
      for (size_t c = 0; c < K; c++) s += (r[c] = exp(z[c] - m));
      f += m + log(s) - z[L->y[i]];
      for (size_t c = 0; c < K; c++) r[c] = r[c] / s - (c == L->y[i]);
    }
    for (uint64_t p = p0; p < p1; p++) {
      double *gw = g + (size_t)L->col[p] * K, v = L->val[p];
      for (size_t c = 0; c < K; c++) gw[c] += r[c] * v;
    }
    for (size_t c = 0; c < K; c++) gb[c] += r[c];
  }
  L->part_f[chunk] = f;
}

static void lr_chunk(void *arg, size_t chunk, size_t b, size_t e) {
  lr_ctx *L = arg;
  switch (L->k) {
  case 1: lr_chunk_k(L, chunk, b, e, 1); break;
  case 3: lr_chunk_k(L, chunk, b, e, 3); break;
  case 4: lr_chunk_k(L, chunk, b, e, 4); break;
  case 5: lr_chunk_k(L, chunk, b, e, 5); break;
  case 6: lr_chunk_k(L, chunk, b, e, 6); break;
  default: lr_chunk_k(L, chunk, b, e, (size_t)L->k); break;
  }
}

/* Documents per chunk: a function of n only (determinism), about 16
** chunks, each holding a k x (d+1) gradient partial. */
static size_t lr_hint(size_t n) { return n / 16 + 1 < 256 ? 256 : n / 16 + 1; }

static double lr_eval(lr_ctx *L, ns_pool *pool, const double *theta, double *grad, double C) {
  size_t nch = ns_pool_nchunks(L->n, lr_hint(L->n)), m = (size_t)L->k * (L->d + 1);
  double f = 0;
  L->theta = theta;
  ns_pool_for(pool, L->n, lr_hint(L->n), lr_chunk, L);
  memset(grad, 0, m * sizeof *grad);
  for (size_t c = 0; c < nch; c++) {
    f += L->part_f[c];
    const double *g = L->part_g + c * m;
    for (size_t j = 0; j < m; j++) grad[j] += g[j];
  }
  /* + |W|^2 / (2C); intercepts (the last K values) free */
  for (size_t j = 0; j < L->d * (size_t)L->k; j++) {
    f += theta[j] * theta[j] / (2 * C);
    grad[j] += theta[j] / C;
  }
  return f;
}

static double dot(const double *a, const double *b, size_t m) {
  double s = 0;
  for (size_t j = 0; j < m; j++) s += a[j] * b[j];
  return s;
}

int ns__logreg_fit(const uint64_t *rowptr, const int32_t *col, const double *val,
                   const uint32_t *rows, size_t n_docs, size_t d, const uint8_t *y, int k, double C,
                   double gtol, double ftol, ns_pool *pool, double *theta) {
  enum { MEM = 10, MAX_IT = 5000 };
  lr_ctx L = {rowptr, col, val, rows, y, n_docs, d, k == 2 ? 1 : k, NULL, NULL, NULL};
  size_t m = (size_t)L.k * (d + 1), nch = ns_pool_nchunks(n_docs, lr_hint(n_docs));
  double *g = ns_calloc(m, sizeof *g), *gn = ns_calloc(m, sizeof *gn);
  double *x1 = ns_calloc(m, sizeof *x1), *dir = ns_calloc(m, sizeof *dir);
  double *S = ns_calloc(MEM * m, sizeof *S), *Y = ns_calloc(MEM * m, sizeof *Y);
  double rho[MEM], alpha[MEM], f, step = 1.0;
  int hist = 0, head = 0, rc = 0, it = 0, evals = 1;
  L.part_f = ns_calloc(nch ? nch : 1, sizeof *L.part_f);
  L.part_g = ns_calloc((nch ? nch : 1) * m, sizeof *L.part_g);
  if (!g || !gn || !x1 || !dir || !S || !Y || !L.part_f || !L.part_g) { rc = NS_ENOMEM; goto out; }
  memset(theta, 0, m * sizeof *theta); /* sklearn's start */
  f = lr_eval(&L, pool, theta, g, C);
  for (it = 0; it < MAX_IT; it++) {
    double gmax = 0, gd, fn = 0;
    for (size_t j = 0; j < m; j++) gmax = fabs(g[j]) > gmax ? fabs(g[j]) : gmax;
    if (gmax <= gtol) break;
    /* two-loop recursion: dir = -H g */
    for (size_t j = 0; j < m; j++) dir[j] = -g[j];
    for (int h = 0; h < hist; h++) {
      int s = (head - 1 - h + MEM) % MEM;
      alpha[s] = rho[s] * dot(S + (size_t)s * m, dir, m);
      for (size_t j = 0; j < m; j++) dir[j] -= alpha[s] * Y[(size_t)s * m + j];
    }
    if (hist) {
      int s = (head - 1 + MEM) % MEM;
      double gam = dot(S + (size_t)s * m, Y + (size_t)s * m, m) /
                   dot(Y + (size_t)s * m, Y + (size_t)s * m, m);
      for (size_t j = 0; j < m; j++) dir[j] *= gam;
    }
    for (int h = hist - 1; h >= 0; h--) {
      int s = (head - 1 - h + MEM) % MEM;
      double beta = rho[s] * dot(Y + (size_t)s * m, dir, m);
      for (size_t j = 0; j < m; j++) dir[j] += (alpha[s] - beta) * S[(size_t)s * m + j];
    }
    gd = dot(g, dir, m);
    if (gd >= 0) { /* not a descent direction: restart from the gradient */
      for (size_t j = 0; j < m; j++) dir[j] = -g[j];
      gd = dot(g, dir, m);
      hist = 0;
    }
    step = hist ? 1.0 : 1.0 / sqrt(dot(g, g, m)) < 1.0 ? 1.0 / sqrt(dot(g, g, m)) : 1.0;
    /* backtracking (Armijo) line search */
    int ok = 0;
    for (int ls = 0; ls < 60; ls++) {
      for (size_t j = 0; j < m; j++) x1[j] = theta[j] + step * dir[j];
      fn = lr_eval(&L, pool, x1, gn, C);
      evals++;
      if (fn <= f + 1e-4 * step * gd) { ok = 1; break; }
      step *= 0.5;
    }
    if (!ok) break; /* no decrease left: at the optimum to rounding */
    /* the new pair (s, y) */
    {
      double *s = S + (size_t)head * m, *yv = Y + (size_t)head * m, sy;
      for (size_t j = 0; j < m; j++) {
        s[j] = x1[j] - theta[j];
        yv[j] = gn[j] - g[j];
      }
      sy = dot(s, yv, m);
      if (sy > 1e-12 * dot(yv, yv, m)) {
        rho[head] = 1.0 / sy;
        head = (head + 1) % MEM;
        hist = hist < MEM ? hist + 1 : MEM;
      }
    }
    memcpy(theta, x1, m * sizeof *theta);
    memcpy(g, gn, m * sizeof *g);
    if (f - fn <= ftol * fmax(fmax(fabs(f), fabs(fn)), 1.0)) { f = fn; break; }
    f = fn;
  }
  ns_debug("topics: logistic regression: %d iterations, %d evaluations, f = %.10g", it, evals,
           f);
out:
  free(g);
  free(gn);
  free(x1);
  free(dir);
  free(S);
  free(Y);
  free(L.part_f);
  free(L.part_g);
  return rc;
}

/* ---- the driver ---------------------------------------------------------- */

#define WIN ((size_t)1 << 16) /* posts whose text is held at once */
#define POST_HINT 256         /* posts per pool chunk */

typedef struct note_key {
  int64_t tweet;
  uint32_t idx;
} note_key;

static int cmp_note_key(const void *a, const void *b) {
  const note_key *x = a, *y = b;
  if (x->tweet != y->tweet) return x->tweet < y->tweet ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* What one pool chunk produces for its posts. */
typedef struct chunk_out {
  ns__tbuf tok;          /* pass 1: NUL-separated tokens of the chunk's posts */
  uint32_t *ntok;        /* pass 1: tokens per post */
  /* pass 2: (feature, value) pairs of the chunk's posts, nnz per post */
  int32_t *fcol;
  double *fval;
  size_t fn, fcap;
  uint32_t *nnz;
  int err;
} chunk_out;

typedef struct tp_ctx {
  const ns_dataset *ds;
  const note_key *keys;      /* notes by (tweet, index) */
  const size_t *post_start;  /* P + 1 */
  size_t w0;                 /* first post of the window */
  int pass;
  uint8_t *mask;             /* pass 1 out: seed topics per post */
  chunk_out *co;             /* per chunk of the window */
  /* pass 2 */
  const ns_strtab *vocab;
  const int32_t *feat;       /* vocab id -> feature, -1 */
  const double *idf;
} tp_ctx;

/* The joined, prepared text of post p into out (scratch: tmp). */
static int post_text(const tp_ctx *T, size_t p, ns__tbuf *tmp, ns__tbuf *out) {
  tmp->n = 0;
  if (tb_reserve(tmp, 1)) return NS_ENOMEM;
  for (size_t k = T->post_start[p]; k < T->post_start[p + 1]; k++) {
    size_t len;
    const char *t = ns_dataset_note_text(T->ds, T->keys[k].idx, &len);
    if (is_na_text(t, len)) len = 0;
    if (k > T->post_start[p] && tb_putc(tmp, ' ')) return NS_ENOMEM;
    if (len && tb_put(tmp, t, len)) return NS_ENOMEM;
  }
  return ns__topics_prepare(tmp->p, tmp->n, out);
}

typedef struct fc {
  int32_t f;
  uint32_t n;
} fc;

static int cmp_fc(const void *a, const void *b) {
  const fc *x = a, *y = b;
  return (x->f > y->f) - (x->f < y->f);
}

static void tp_chunk(void *arg, size_t chunk, size_t b, size_t e) {
  tp_ctx *T = arg;
  chunk_out *o = &T->co[chunk];
  ns__tbuf tmp = {0}, txt = {0}, toks = {0}, scr = {0};
  ns__seed_re *re = NULL;
  fc *cnt = NULL;
  size_t cnt_cap = 0;
  if (T->pass == 1 && ns__seed_re_new(&re)) goto oom;
  for (size_t q = b; q < e; q++) {
    size_t p = T->w0 + q;
    long nt;
    if (post_text(T, p, &tmp, &txt)) goto oom;
    if (T->pass == 1) {
      int m = ns__seed_mask(re, txt.p, txt.n, &scr);
      if (m < 0) goto oom;
      T->mask[p] = (uint8_t)m;
      /* only posts with at most one seed topic train (and build the
      ** vocabulary) */
      if ((m & (m - 1)) != 0) {
        o->ntok[q - b] = 0;
        continue;
      }
    }
    /* stop words are dropped per vocabulary entry (feature selection), not
    ** per token: one check per distinct token */
    if ((nt = ns__topics_tokens(txt.p, txt.n, 0, &toks)) < 0) goto oom;
    if (T->pass == 1) {
      o->ntok[q - b] = (uint32_t)nt;
      if (tb_put(&o->tok, toks.p, toks.n)) goto oom;
      continue;
    }
    /* pass 2: counts of the kept features, then tf-idf, L2-normalised */
    size_t k = 0;
    if ((size_t)nt > cnt_cap) {
      fc *nc = ns_realloc(cnt, (size_t)nt * sizeof *nc);
      if (!nc) goto oom;
      cnt = nc;
      cnt_cap = (size_t)nt;
    }
    for (const char *t = toks.p; t < toks.p + toks.n;) {
      size_t l = strlen(t);
      int32_t id = ns_strtab_find(T->vocab, t, l);
      if (id >= 0 && T->feat[id] >= 0) cnt[k++] = (fc){T->feat[id], 1};
      t += l + 1;
    }
    qsort(cnt, k, sizeof *cnt, cmp_fc);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
      if (u && cnt[u - 1].f == cnt[i].f) cnt[u - 1].n++;
      else cnt[u++] = cnt[i];
    }
    if (o->fn + u > o->fcap) {
      size_t nc = o->fcap ? o->fcap : 1024;
      while (nc < o->fn + u) nc *= 2;
      int32_t *c2 = ns_realloc(o->fcol, nc * sizeof *c2);
      if (!c2) goto oom;
      o->fcol = c2;
      double *v2 = ns_realloc(o->fval, nc * sizeof *v2);
      if (!v2) goto oom;
      o->fval = v2;
      o->fcap = nc;
    }
    double ss = 0;
    for (size_t i = 0; i < u; i++) {
      double v = (double)cnt[i].n * T->idf[cnt[i].f];
      o->fcol[o->fn + i] = cnt[i].f;
      o->fval[o->fn + i] = v;
      ss += v * v;
    }
    if (ss > 0) {
      double nrm = sqrt(ss);
      for (size_t i = 0; i < u; i++) o->fval[o->fn + i] /= nrm;
    }
    o->fn += u;
    o->nnz[q - b] = (uint32_t)u;
  }
  goto done;
oom:
  o->err = NS_ENOMEM;
done:
  ns__seed_re_free(re);
  ns__tbuf_free(&tmp);
  ns__tbuf_free(&txt);
  ns__tbuf_free(&toks);
  ns__tbuf_free(&scr);
  free(cnt);
}

static void chunk_out_free(chunk_out *o) {
  ns__tbuf_free(&o->tok);
  free(o->ntok);
  free(o->fcol);
  free(o->fval);
  free(o->nnz);
  memset(o, 0, sizeof *o);
}

/* Runs one pass over every post, window by window; after each window,
** sink(ctx, window start, chunk outputs) in chunk order on this thread. */
typedef int (*tp_sink)(void *ctx, tp_ctx *T, size_t w0, size_t wn);

static int tp_pass(tp_ctx *T, size_t P, ns_pool *pool, tp_sink sink, void *sctx) {
  int rc = 0;
  for (size_t w0 = 0; w0 < P && !rc; w0 += WIN) {
    size_t wn = P - w0 < WIN ? P - w0 : WIN, nch = ns_pool_nchunks(wn, POST_HINT);
    T->w0 = w0;
    if (!(T->co = ns_calloc(nch, sizeof *T->co))) return NS_ENOMEM;
    for (size_t c = 0; c < nch && !rc; c++) {
      size_t cn = (c + 1) * POST_HINT < wn ? POST_HINT : wn - c * POST_HINT;
      if (!(T->co[c].ntok = ns_calloc(cn, sizeof *T->co[c].ntok)) ||
          !(T->co[c].nnz = ns_calloc(cn, sizeof *T->co[c].nnz)))
        rc = NS_ENOMEM;
    }
    if (!rc) ns_pool_for(pool, wn, POST_HINT, tp_chunk, T);
    for (size_t c = 0; c < nch && !rc; c++) rc = T->co[c].err;
    if (!rc) rc = sink(sctx, T, w0, wn);
    for (size_t c = 0; c < nch; c++) chunk_out_free(&T->co[c]);
    free(T->co);
    T->co = NULL;
  }
  return rc;
}

/* pass 1 sink: intern the training posts' tokens, document frequencies */
typedef struct voc {
  ns_strtab *tab;
  uint32_t *df, *last;   /* per vocab id: df over training posts; last post + 1 */
  size_t cap;
} voc;

static int voc_sink(void *ctx, tp_ctx *T, size_t w0, size_t wn) {
  voc *V = ctx;
  size_t nch = ns_pool_nchunks(wn, POST_HINT);
  for (size_t c = 0; c < nch; c++) {
    const chunk_out *o = &T->co[c];
    const char *t = o->tok.p;
    size_t cn = (c + 1) * POST_HINT < wn ? POST_HINT : wn - c * POST_HINT;
    for (size_t q = 0; q < cn; q++) {
      uint32_t post = (uint32_t)(w0 + c * POST_HINT + q) + 1;
      for (uint32_t j = 0; j < o->ntok[q]; j++) {
        size_t l = strlen(t);
        int32_t id;
        int rc = ns_strtab_intern(V->tab, t, l, &id);
        if (rc) return rc;
        if ((size_t)id >= V->cap) {
          size_t nc = V->cap ? V->cap * 2 : 4096;
          uint32_t *a = ns_realloc(V->df, nc * sizeof *a), *b;
          if (!a) return NS_ENOMEM;
          V->df = a;
          if (!(b = ns_realloc(V->last, nc * sizeof *b))) return NS_ENOMEM;
          V->last = b;
          memset(V->df + V->cap, 0, (nc - V->cap) * sizeof *a);
          memset(V->last + V->cap, 0, (nc - V->cap) * sizeof *b);
          V->cap = nc;
        }
        if (V->last[id] != post) {
          V->last[id] = post;
          V->df[id]++;
        }
        t += l + 1;
      }
    }
  }
  return 0;
}

/* pass 2 sink: append the rows to the CSR matrix */
typedef struct csr {
  uint64_t *rowptr;      /* P + 1 */
  int32_t *col;
  double *val;
  size_t nnz, cap;
} csr;

static int csr_sink(void *ctx, tp_ctx *T, size_t w0, size_t wn) {
  csr *X = ctx;
  size_t nch = ns_pool_nchunks(wn, POST_HINT);
  for (size_t c = 0; c < nch; c++) {
    const chunk_out *o = &T->co[c];
    size_t cn = (c + 1) * POST_HINT < wn ? POST_HINT : wn - c * POST_HINT, off = 0;
    if (X->nnz + o->fn > X->cap) {
      size_t nc = X->cap ? X->cap : 4096;
      while (nc < X->nnz + o->fn) nc *= 2;
      int32_t *c2 = ns_realloc(X->col, nc * sizeof *c2);
      if (!c2) return NS_ENOMEM;
      X->col = c2;
      double *v2 = ns_realloc(X->val, nc * sizeof *v2);
      if (!v2) return NS_ENOMEM;
      X->val = v2;
      X->cap = nc;
    }
    if (o->fn) {
      memcpy(X->col + X->nnz, o->fcol, o->fn * sizeof *X->col);
      memcpy(X->val + X->nnz, o->fval, o->fn * sizeof *X->val);
    }
    for (size_t q = 0; q < cn; q++) {
      size_t post = w0 + c * POST_HINT + q;
      off += o->nnz[q];
      X->rowptr[post + 1] = X->nnz + off;
    }
    X->nnz += o->fn;
  }
  return 0;
}

static int popcount8(unsigned m) { return __builtin_popcount(m); }

static int lowest_topic(unsigned m) { return m ? __builtin_ctz(m) : NS_TOPIC_NONE; }

int ns_topics_assign(const ns_dataset *ds, ns_pool *pool, int8_t *topic) {
  size_t n = ds->n_notes, P = 0, n_train = 0, d = 0;
  note_key *keys = NULL;
  size_t *post_start = NULL;
  uint8_t *mask = NULL, *y = NULL;
  int8_t *post_topic = NULL;
  int32_t *feat = NULL;
  double *idf = NULL, *theta = NULL;
  uint32_t *train = NULL;
  voc V = {0};
  csr X = {0};
  tp_ctx T;
  int rc = 0, cls[NS_TOPIC_COUNT], ncls = 0, cls_of[NS_TOPIC_COUNT];

  if (n == 0) return 0;
  if (n > UINT32_MAX) return NS_ERANGE;
  /* 1. posts: notes grouped by tweetId, in note order within a post */
  if (!(keys = ns_mallocn(n, sizeof *keys))) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < n; i++) keys[i] = (note_key){ds->note_tweet_id[i], (uint32_t)i};
  qsort(keys, n, sizeof *keys, cmp_note_key);
  if (!(post_start = ns_mallocn(n + 1, sizeof *post_start))) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < n; i++)
    if (i == 0 || keys[i].tweet != keys[i - 1].tweet) post_start[P++] = i;
  post_start[P] = n;
  if (!(mask = ns_calloc(P, 1)) || !(post_topic = ns_calloc(P, 1))) { rc = NS_ENOMEM; goto out; }

  /* 2-3a. seed labels; vocabulary and document frequencies of the
  ** training posts */
  memset(&T, 0, sizeof T);
  T.ds = ds;
  T.keys = keys;
  T.post_start = post_start;
  T.mask = mask;
  T.pass = 1;
  if ((rc = ns_strtab_new(&V.tab)) != 0) goto out;
  if ((rc = tp_pass(&T, P, pool, voc_sink, &V)) != 0) goto out;
  for (size_t p = 0; p < P; p++) {
    unsigned m = mask[p];
    if (popcount8(m) <= 1) n_train++;
  }
  /* classes present among the training posts, sorted (sklearn's classes_) */
  {
    int seen[NS_TOPIC_COUNT] = {0};
    for (size_t p = 0; p < P; p++)
      if (popcount8(mask[p]) <= 1) seen[lowest_topic(mask[p])] = 1;
    for (int t = 0; t < NS_TOPIC_COUNT; t++) {
      cls_of[t] = -1;
      if (seen[t]) {
        cls_of[t] = ncls;
        cls[ncls++] = t;
      }
    }
  }
  /* features: min_df <= df <= max_df, no stop word, in vocabulary order
  ** (sklearn drops stop words before counting; a dropped token never
  ** becomes a feature either way) */
  {
    size_t nv = ns_strtab_count(V.tab);
    uint32_t max_df = (uint32_t)(0.25 * (double)P);
    if (max_df < MAX_DF_FLOOR) max_df = MAX_DF_FLOOR;
    if (!(feat = ns_mallocn(nv, sizeof *feat)) || !(idf = ns_mallocn(nv, sizeof *idf))) {
      rc = NS_ENOMEM;
      goto out;
    }
    pthread_once(&blocked_once, build_blocked);
    for (size_t v = 0; v < nv; v++) {
      const char *str = ns_strtab_str(V.tab, (int32_t)v);
      feat[v] = -1;
      if (V.df[v] >= MIN_DF && V.df[v] <= max_df && !is_stop(str, strlen(str))) {
        /* smooth_idf: ln((1 + n) / (1 + df)) + 1 */
        idf[d] = log((1.0 + (double)n_train) / (1.0 + (double)V.df[v])) + 1.0;
        feat[v] = (int32_t)d++;
      }
    }
  }
  ns_debug("topics: %zu notes on %zu posts, %zu training posts, %d classes, %zu features", n, P,
           n_train, ncls, d);

  if (d == 0 || ncls < 2) {
    /* sklearn would refuse to fit: the seed labels stand */
    for (size_t p = 0; p < P; p++)
      post_topic[p] = (int8_t)(popcount8(mask[p]) == 1 ? lowest_topic(mask[p]) : NS_TOPIC_NONE);
  } else {
    /* 3b. tf-idf rows of every post, the fit on the training posts */
    int kout = ncls == 2 ? 1 : ncls;
    size_t k = 0;
    if (!(X.rowptr = ns_calloc(P + 1, sizeof *X.rowptr))) { rc = NS_ENOMEM; goto out; }
    T.pass = 2;
    T.vocab = V.tab;
    T.feat = feat;
    T.idf = idf;
    if ((rc = tp_pass(&T, P, pool, csr_sink, &X)) != 0) goto out;
    if (!(train = ns_mallocn(n_train, sizeof *train)) || !(y = ns_mallocn(n_train, 1)) ||
        !(theta = ns_calloc((size_t)kout * (d + 1), sizeof *theta))) {
      rc = NS_ENOMEM;
      goto out;
    }
    for (size_t p = 0; p < P; p++)
      if (popcount8(mask[p]) <= 1) {
        train[k] = (uint32_t)p;
        y[k++] = (uint8_t)cls_of[lowest_topic(mask[p])];
      }
    if ((rc = ns__logreg_fit(X.rowptr, X.col, X.val, train, n_train, d, y, ncls, LR_C, LR_GTOL,
                             LR_FTOL, pool, theta)) != 0)
      goto out;
    /* 4. probabilities of every post and the merge rules */
    for (size_t p = 0; p < P; p++) {
      double z[NS_TOPIC_COUNT], prob[NS_TOPIC_COUNT] = {0}, pc[NS_TOPIC_COUNT];
      unsigned m = mask[p];
      int pred = 0;
      for (int c = 0; c < kout; c++) z[c] = theta[d * (size_t)kout + (size_t)c];
      for (uint64_t q = X.rowptr[p]; q < X.rowptr[p + 1]; q++)
        for (int c = 0; c < kout; c++) z[c] += theta[(size_t)X.col[q] * (size_t)kout + (size_t)c] * X.val[q];
      if (kout == 1) {
        double s = 1.0 / (1.0 + exp(-z[0])); /* scipy.special.expit */
        pc[0] = 1.0 - s;
        pc[1] = s;
      } else {
        double mx = z[0], sum = 0;
        for (int c = 1; c < kout; c++) mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < kout; c++) sum += (pc[c] = exp(z[c] - mx));
        for (int c = 0; c < kout; c++) pc[c] /= sum;
      }
      for (int c = 0; c < ncls; c++) prob[cls[c]] = pc[c];
      for (int t = 1; t < NS_TOPIC_COUNT; t++)
        if (prob[t] > prob[pred]) pred = t; /* np.argmax: first maximum */
      if (popcount8(m) == 1) {
        int l = lowest_topic(m);
        double thr = l == NS_TOPIC_IN_DIMENSION_TWO ? IN_DIM_TWO_THRESHOLD : UNASSIGNED_THRESHOLD;
        if (1.0 - prob[l] <= thr) pred = l;
      } else if (m) {
        /* conflicted: the most probable matched topic (ascending order,
        ** first maximum), if it passes its threshold */
        int best = -1;
        double bp = -1.0;
        for (int t = 1; t < NS_TOPIC_COUNT; t++)
          if ((m >> t & 1) && prob[t] > bp) {
            bp = prob[t];
            best = t;
          }
        double thr =
            best == NS_TOPIC_IN_DIMENSION_TWO ? IN_DIM_TWO_THRESHOLD : UNASSIGNED_THRESHOLD;
        if (best > 0 && 1.0 - bp <= thr) pred = best;
      }
      post_topic[p] = (int8_t)pred;
    }
  }
  /* 5. notes take their post's topic */
  for (size_t p = 0; p < P; p++)
    for (size_t i = post_start[p]; i < post_start[p + 1]; i++) topic[keys[i].idx] = post_topic[p];

out:
  free(keys);
  free(post_start);
  free(mask);
  free(post_topic);
  free(feat);
  free(idf);
  free(theta);
  free(train);
  free(y);
  ns_strtab_free(V.tab);
  free(V.df);
  free(V.last);
  free(X.rowptr);
  free(X.col);
  free(X.val);
  return rc;
}
