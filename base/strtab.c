/*
** base/strtab.c -- string interning.
**
** Open-addressing hash table (linear probing, power-of-two capacity, load
** factor <= 1/2) mapping strings to dense indexes in first-seen order.  The
** strings themselves live in large arena blocks so interning 100 M short
** participant ids costs one allocation per block, not per string.
*/
#include "base.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (1u << 20)

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  char data[];
} arena_block;

struct ns_strtab {
  uint64_t *slots;      /* capacity entries: 0 = empty, else (hash tag << 32) |
                           (string index + 1); the tag (high 32 bits of the
                           hash) lets a probe skip non-matching entries
                           without touching the string arrays */
  size_t cap;           /* power of two */
  const char **strs;    /* index -> NUL-terminated string in the arena */
  uint32_t *lens;       /* index -> length */
  uint64_t *hashes;     /* index -> hash (so growing never rehashes text) */
  size_t n, strs_cap;
  arena_block *arena;
};

static uint64_t hash_bytes(const char *s, size_t len) {
  /* FNV-1a, then a finalizer to spread the low bits used by the table. */
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return ns_hash64(h);
}

int ns_strtab_new(ns_strtab **out) {
  ns_strtab *t = calloc(1, sizeof *t);
  *out = NULL;
  if (!t) return NS_ENOMEM;
  t->cap = 1024;
  t->slots = calloc(t->cap, sizeof *t->slots);
  if (!t->slots) {
    free(t);
    return NS_ENOMEM;
  }
  *out = t;
  return 0;
}

void ns_strtab_free(ns_strtab *t) {
  if (!t) return;
  for (arena_block *b = t->arena, *nx; b; b = nx) {
    nx = b->next;
    free(b);
  }
  free(t->slots);
  free(t->strs);
  free(t->lens);
  free(t->hashes);
  free(t);
}

static char *arena_copy(ns_strtab *t, const char *s, size_t len) {
  arena_block *b = t->arena;
  char *p;
  if (!b || b->cap - b->used < len + 1) {
    size_t cap = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = t->arena;
    b->used = 0;
    b->cap = cap;
    t->arena = b;
  }
  p = b->data + b->used;
  memcpy(p, s, len);
  p[len] = '\0';
  b->used += len + 1;
  return p;
}

#define SLOT(h, idx) (((h) & 0xffffffff00000000ull) | ((uint64_t)(idx) + 1))
#define SLOT_IDX(v) ((int32_t)(((v) & 0xffffffffu) - 1))

static int grow_slots(ns_strtab *t) {
  size_t nc = t->cap * 2;
  uint64_t *ns = calloc(nc, sizeof *ns);
  if (!ns) return NS_ENOMEM;
  for (size_t i = 0; i < t->n; i++) {
    size_t j = t->hashes[i] & (nc - 1);
    while (ns[j]) j = (j + 1) & (nc - 1);
    ns[j] = SLOT(t->hashes[i], i);
  }
  free(t->slots);
  t->slots = ns;
  t->cap = nc;
  return 0;
}

/* Slot holding s, or the empty slot where it would go. */
static size_t probe(const ns_strtab *t, const char *s, size_t len, uint64_t h) {
  size_t j = h & (t->cap - 1);
  uint64_t tag = h & 0xffffffff00000000ull;
  for (;;) {
    uint64_t v = t->slots[j];
    if (!v) return j;
    if ((v & 0xffffffff00000000ull) == tag) {
      int32_t k = SLOT_IDX(v);
      if (t->lens[k] == len && memcmp(t->strs[k], s, len) == 0) return j;
    }
    j = (j + 1) & (t->cap - 1);
  }
}

int32_t ns_strtab_find(const ns_strtab *t, const char *s, size_t len) {
  uint64_t v = t->slots[probe(t, s, len, hash_bytes(s, len))];
  return v ? SLOT_IDX(v) : -1;
}

int ns_strtab_intern(ns_strtab *t, const char *s, size_t len, int32_t *out) {
  uint64_t h = hash_bytes(s, len);
  size_t j = probe(t, s, len, h);
  char *copy;
  *out = -1;
  if (t->slots[j]) {
    *out = SLOT_IDX(t->slots[j]);
    return 0;
  }
  if (t->n >= INT32_MAX - 1 || len > UINT32_MAX) return NS_ERANGE;
  if (t->n == t->strs_cap) {
    size_t nc = t->strs_cap ? t->strs_cap * 2 : 1024;
    const char **a = realloc(t->strs, nc * sizeof *a);
    if (!a) return NS_ENOMEM;
    t->strs = a;
    uint32_t *l = realloc(t->lens, nc * sizeof *l);
    if (!l) return NS_ENOMEM;
    t->lens = l;
    uint64_t *hs = realloc(t->hashes, nc * sizeof *hs);
    if (!hs) return NS_ENOMEM;
    t->hashes = hs;
    t->strs_cap = nc;
  }
  copy = arena_copy(t, s, len);
  if (!copy) return NS_ENOMEM;
  t->strs[t->n] = copy;
  t->lens[t->n] = (uint32_t)len;
  t->hashes[t->n] = h;
  t->slots[j] = SLOT(h, t->n);
  *out = (int32_t)t->n++;
  if (t->n * 2 > t->cap) return grow_slots(t);
  return 0;
}

const char *ns_strtab_str(const ns_strtab *t, int32_t idx) {
  if (idx < 0 || (size_t)idx >= t->n) return "";
  return t->strs[idx];
}

size_t ns_strtab_count(const ns_strtab *t) { return t->n; }
