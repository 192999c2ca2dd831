/*
** tests/test_source.c -- the TSV reader's byte sources (store/source.c):
** gzip (one and several members), zip, the same rows as the plain file;
** a truncated or corrupt gzip, a truncated zip and a zip of two files fail
** with a message naming the file; an empty gzip is an "empty file"; a
** directory lists *.tsv, *.tsv.gz and *.zip in name order and nothing else.
**
** Fixtures are written at test time from tests/data/ratings-00000.tsv with
** zlib (gzwrite) and libarchive (a zip writer).  ns_test_tmpdir() empties
** the directory on every call: each test calls it once before its files.
*/
#include "harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../base/dataset.h"
#include "../store/store.h"

typedef struct msgs {
  char buf[4096];
  size_t n;
} msgs;

static void collect(void *ctx, const char *m) {
  msgs *g = ctx;
  g->n += (size_t)snprintf(g->buf + g->n, sizeof g->buf - g->n, "%s\n", m);
  if (g->n >= sizeof g->buf) g->n = sizeof g->buf - 1;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *b;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) b[n] = '\0';
  *len = (size_t)n;
  return b;
}

static void spit(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  ASSERT_EQ(fwrite(p, 1, n, f), n);
  ASSERT_EQ(fclose(f), 0);
}

/* gzip of [p, p+n) as `members` gzip members back to back */
static void write_gz(const char *path, const char *p, size_t n, int members) {
  FILE *out = fopen(path, "wb");
  size_t per = n / (size_t)members;
  ASSERT(out != NULL);
  fclose(out);
  for (int m = 0; m < members; m++) {
    gzFile g = gzopen(path, "ab");
    size_t from = per * (size_t)m, to = m == members - 1 ? n : per * (size_t)(m + 1);
    ASSERT(g != NULL);
    if (to > from) ASSERT_EQ(gzwrite(g, p + from, (unsigned)(to - from)), (int)(to - from));
    ASSERT_EQ(gzclose(g), Z_OK);
  }
}

/* a zip holding the named entries, each with the same text */
static void write_zip(const char *path, const char *const *names, int k, const char *p, size_t n) {
  struct archive *a = archive_write_new();
  ASSERT(a != NULL);
  ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, path), ARCHIVE_OK);
  for (int i = 0; i < k; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, names[i]);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    ASSERT_EQ(archive_write_data(a, p, n), (la_ssize_t)n);
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

static int load(const char *path, ns_dataset **ds, msgs *g, ns_load_stats *st) {
  ns_load_opts o = {0, collect, g, NULL};
  memset(g, 0, sizeof *g);
  ASSERT_OK(ns_dataset_new(ds));
  return ns_tsv_load(path, *ds, &o, st);
}

static void same_ratings(const ns_dataset *a, const ns_dataset *b) {
  ASSERT_EQ(a->n_ratings, b->n_ratings);
  for (size_t i = 0; i < a->n_ratings; i++) {
    ASSERT_EQ(a->r_note_id[i], b->r_note_id[i]);
    ASSERT_EQ(a->r_rater[i], b->r_rater[i]);
    ASSERT_EQ(ns_r_created(a, i), ns_r_created(b, i));
    ASSERT_EQ(ns_r_level(a, i), ns_r_level(b, i));
    ASSERT_EQ(ns_r_tags(a, i), ns_r_tags(b, i));
  }
}

TEST(source_gzip_zip_read_as_plain) {
  size_t n;
  char *text = slurp("tests/data/ratings-00000.tsv", &n);
  char gz1[512], gz3[512], zp[512];
  const char *entry[] = {"ratings-00000.tsv"};
  ns_dataset *plain, *x;
  ns_load_stats st;
  msgs g;
  ASSERT(text != NULL);
  snprintf(gz1, sizeof gz1, "%s/r1.tsv.gz", ns_test_tmpdir());
  snprintf(gz3, sizeof gz3, "%s/r3.tsv.gz", ns_test_tmpdir());
  snprintf(zp, sizeof zp, "%s/r.zip", ns_test_tmpdir());
  write_gz(gz1, text, n, 1);
  write_gz(gz3, text, n, 3); /* `cat a.gz b.gz c.gz` is one stream */
  write_zip(zp, entry, 1, text, n);

  ASSERT_OK(load("tests/data/ratings-00000.tsv", &plain, &g, &st));
  ASSERT(plain->n_ratings > 5);
  ASSERT_EQ(st.kind, NS_FILE_RATINGS);
  const char *paths[] = {gz1, gz3, zp};
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(load(paths[i], &x, &g, &st));
    ASSERT_EQ(st.kind, NS_FILE_RATINGS);
    ASSERT_EQ(st.rows_rejected, 0);
    same_ratings(plain, x);
    ns_dataset_free(x);
  }
  ns_dataset_free(plain);
  free(text);
}

TEST(source_truncated_gzip_names_file) {
  size_t n, gn;
  char *text = slurp("tests/data/ratings-00000.tsv", &n), *gzb;
  char gz[512], cut[512], bad[512];
  ns_dataset *x;
  ns_load_stats st;
  msgs g;
  ASSERT(text != NULL);
  snprintf(gz, sizeof gz, "%s/t.tsv.gz", ns_test_tmpdir());
  snprintf(cut, sizeof cut, "%s/cut.tsv.gz", ns_test_tmpdir());
  snprintf(bad, sizeof bad, "%s/bad.tsv.gz", ns_test_tmpdir());
  write_gz(gz, text, n, 1);
  gzb = slurp(gz, &gn);
  ASSERT(gzb != NULL && gn > 40);

  /* cut in the middle: an error, never a short read */
  spit(cut, gzb, gn / 2);
  ASSERT_ERR(load(cut, &x, &g, &st), NS_EIO);
  ASSERT(strstr(g.buf, cut) != NULL);
  ASSERT(strstr(g.buf, "truncated gzip data") != NULL);
  ns_dataset_free(x);
  /* cut by only the 8-byte trailer (CRC, size): still truncated */
  spit(cut, gzb, gn - 4);
  ASSERT_ERR(load(cut, &x, &g, &st), NS_EIO);
  ASSERT(strstr(g.buf, "truncated gzip data") != NULL);
  ns_dataset_free(x);
  /* a flipped byte in the deflate data: corrupt (or a CRC mismatch) */
  gzb[gn / 2] ^= 0x55;
  gzb[gn / 2 + 1] ^= 0x55;
  spit(bad, gzb, gn);
  ASSERT_ERR(load(bad, &x, &g, &st), NS_EIO);
  ASSERT(strstr(g.buf, bad) != NULL);
  ASSERT(strstr(g.buf, "corrupt gzip data") != NULL);
  ns_dataset_free(x);
  free(gzb);
  free(text);
}

TEST(source_zip_errors_and_empty_gzip) {
  size_t n, zn;
  char *text = slurp("tests/data/ratings-00000.tsv", &n), *zb;
  char zp[512], two[512], eg[512];
  const char *names[] = {"ratings-00000.tsv", "ratings-00001.tsv"};
  ns_dataset *x;
  ns_load_stats st;
  msgs g;
  ASSERT(text != NULL);
  snprintf(zp, sizeof zp, "%s/z.zip", ns_test_tmpdir());
  snprintf(two, sizeof two, "%s/two.zip", ns_test_tmpdir());
  snprintf(eg, sizeof eg, "%s/empty.tsv.gz", ns_test_tmpdir());
  write_zip(two, names, 2, text, n);
  ASSERT_ERR(load(two, &x, &g, &st), NS_EIO);
  ASSERT(strstr(g.buf, "more than one file") != NULL);
  ns_dataset_free(x);

  write_zip(zp, names, 1, text, n);
  zb = slurp(zp, &zn);
  ASSERT(zb != NULL);
  spit(zp, zb, zn / 2);
  ASSERT_ERR(load(zp, &x, &g, &st), NS_EIO);
  ASSERT(strstr(g.buf, zp) != NULL);
  ASSERT(strstr(g.buf, "zip") != NULL);
  ns_dataset_free(x);

  write_gz(eg, "", 0, 1);
  ASSERT_ERR(load(eg, &x, &g, &st), NS_EPARSE);
  ASSERT(strstr(g.buf, "empty file (no header line)") != NULL);
  ns_dataset_free(x);
  free(zb);
  free(text);
}

TEST(source_dir_lists_compressed_in_order) {
  char dir[512], p[600];
  char **list = NULL;
  size_t n = 0;
  const char *files[] = {"b.tsv.gz", "a.tsv", "c.zip", "d.txt", ".hidden.tsv", "e.gz", "f.tsv.bak"};
  snprintf(dir, sizeof dir, "%s/lst", ns_test_tmpdir());
  ASSERT_OK(ns_mkdir_p(dir));
  for (size_t i = 0; i < NS_ARRAY_LEN(files); i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    spit(p, "x", 1);
  }
  ASSERT_OK(ns_tsv_list(dir, &list, &n));
  ASSERT_EQ(n, 3);
  snprintf(p, sizeof p, "%s/a.tsv", dir);
  ASSERT_STREQ(list[0], p);
  snprintf(p, sizeof p, "%s/b.tsv.gz", dir);
  ASSERT_STREQ(list[1], p);
  snprintf(p, sizeof p, "%s/c.zip", dir);
  ASSERT_STREQ(list[2], p);
  ns_tsv_list_free(list, n);
  /* "-" is stdin: itself, not looked up on disk */
  ASSERT_OK(ns_tsv_list("-", &list, &n));
  ASSERT_EQ(n, 1);
  ASSERT_STREQ(list[0], "-");
  ns_tsv_list_free(list, n);
}

/* ---- several shards in parallel (ns_tsv_load_files) --------------------- */

typedef struct done_log {
  char buf[2048];
  size_t n;
  uint64_t dropped[8];
} done_log;

static void on_done(void *ctx, size_t i, const char *path, int rc, const ns_load_stats *st,
                    uint64_t dropped) {
  done_log *d = ctx;
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  d->n += (size_t)snprintf(d->buf + d->n, sizeof d->buf - d->n, "%zu %s rc=%d ok=%llu rej=%llu\n",
                           i, base, rc, (unsigned long long)st->rows_ok,
                           (unsigned long long)st->rows_rejected);
  if (i < 8) d->dropped[i] = dropped;
}

/* 6 shards (rows of tests/data rotated, one gzip'd, one with 25 bad rows):
** threads 1 and 3 give the same dataset, participant table, messages and
** per-file calls; a message cap counts the rest; a truncated shard in the
** middle stops both at the same file with the same messages. */
TEST(source_load_files_parallel_is_sequential) {
  size_t n;
  char *text = slurp("tests/data/ratings-00000.tsv", &n);
  char *rows, paths_buf[6][512];
  const char *paths[6];
  const char *nl;
  ns_dataset *a, *b;
  msgs ga, gb;
  done_log da, db;
  ns_load_opts oa = {0, collect, &ga, NULL}, ob = {0, collect, &gb, NULL};
  char tmp[400];
  snprintf(tmp, sizeof tmp, "%s", ns_test_tmpdir()); /* (each call empties it) */
  ASSERT(text != NULL);
  nl = strchr(text, '\n');
  rows = (char *)nl + 1;
  for (int k = 0; k < 6; k++) {
    char body[16384];
    size_t len = (size_t)(nl + 1 - text), rl = strlen(rows);
    size_t cut = rl * (size_t)k / 7;
    while (cut > 0 && rows[cut - 1] != '\n') cut--;  /* rotate at a line start */
    memcpy(body, text, len);
    memcpy(body + len, rows + cut, rl - cut);
    len += rl - cut;
    memcpy(body + len, rows, cut);
    len += cut;
    if (k == 1)
      for (int j = 0; j < 25; j++) len += (size_t)snprintf(body + len, sizeof body - len, "bad%d\trow\n", j);
    snprintf(paths_buf[k], sizeof paths_buf[k], "%s/ratings-%05d.tsv%s", tmp, k,
             k == 3 ? ".gz" : "");
    if (k == 3) write_gz(paths_buf[k], body, len, 1);
    else spit(paths_buf[k], body, len);
    paths[k] = paths_buf[k];
  }
  memset(&ga, 0, sizeof ga);
  memset(&gb, 0, sizeof gb);
  memset(&da, 0, sizeof da);
  memset(&db, 0, sizeof db);
  ASSERT_OK(ns_dataset_new(&a));
  ASSERT_OK(ns_dataset_new(&b));
  ASSERT_OK(ns_tsv_load_files(paths, 6, 1, SIZE_MAX, a, &oa, on_done, &da));
  ASSERT_OK(ns_tsv_load_files(paths, 6, 3, SIZE_MAX, b, &ob, on_done, &db));
  ASSERT_EQ(a->n_ratings, 6 * (size_t)7);
  same_ratings(a, b);
  ASSERT_EQ(ns_strtab_count(a->participants), ns_strtab_count(b->participants));
  for (size_t i = 0; i < ns_strtab_count(a->participants); i++)
    ASSERT_STREQ(ns_strtab_str(a->participants, (int32_t)i), ns_strtab_str(b->participants, (int32_t)i));
  ASSERT(strstr(ga.buf, "ratings-00001.tsv:9:") != NULL); /* the first bad row, line 9 */
  ASSERT_STREQ(ga.buf, gb.buf);
  ASSERT_STREQ(da.buf, db.buf);
  ASSERT(strstr(da.buf, "1 ratings-00001.tsv rc=0 ok=7 rej=25\n") != NULL);
  ns_dataset_free(b);

  /* at most 5 messages a file kept: the other 20 of shard 1 are counted */
  memset(&gb, 0, sizeof gb);
  memset(&db, 0, sizeof db);
  ASSERT_OK(ns_dataset_new(&b));
  ASSERT_OK(ns_tsv_load_files(paths, 6, 3, 5, b, &ob, on_done, &db));
  same_ratings(a, b);
  ASSERT_EQ(db.dropped[1], 20);
  ASSERT_EQ(db.dropped[0], 0);
  ns_dataset_free(a);
  ns_dataset_free(b);

  /* shard 3 (gzip) truncated: both stop there, same messages, same calls */
  {
    size_t gn;
    char *gzb = slurp(paths[3], &gn);
    ASSERT(gzb != NULL);
    spit(paths_buf[3], gzb, gn / 2);
    free(gzb);
  }
  memset(&ga, 0, sizeof ga);
  memset(&gb, 0, sizeof gb);
  memset(&da, 0, sizeof da);
  memset(&db, 0, sizeof db);
  ASSERT_OK(ns_dataset_new(&a));
  ASSERT_OK(ns_dataset_new(&b));
  ASSERT_ERR(ns_tsv_load_files(paths, 6, 1, SIZE_MAX, a, &oa, on_done, &da), NS_EIO);
  ASSERT_ERR(ns_tsv_load_files(paths, 6, 4, SIZE_MAX, b, &ob, on_done, &db), NS_EIO);
  ASSERT_STREQ(ga.buf, gb.buf);
  ASSERT_STREQ(da.buf, db.buf);
  ASSERT(strstr(ga.buf, "ratings-00003.tsv.gz") != NULL);
  ASSERT(strstr(da.buf, "4 ratings-00004") == NULL); /* nothing after the failed file */
  ns_dataset_free(a);
  ns_dataset_free(b);
  free(text);
}
