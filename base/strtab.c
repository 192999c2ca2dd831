/*
** base/strtab.c -- string interning.
**
** Who calls it: every module that maps participant id strings to dense
** indexes (TSV load, the store's participant cache, the DB snapshot, gen).
** Thread: a table is used by one thread at a time.
**
** Open-addressing hash table (linear probing, power-of-two capacity, load
** factor <= 1/2) mapping strings to dense indexes in first-seen order.
**
** Layout, chosen for the bulk-import hot path (10 M lookups among 200 k+
** random 64-byte ids, where almost every lookup misses the CPU cache):
**   - a slot is 16 bytes: the full 64-bit hash and a pointer to the string
**     record, so a probe never touches a side array;
**   - a string record in the arena is [u32 index][u32 length][bytes][NUL],
**     so the index and length come with the cache line that the byte
**     comparison loads anyway.
** A hit therefore costs two cache misses (slot, record), and both can be
** started early with ns_strtab_prefetch() by a caller that knows the next
** strings ahead of time (store/import.c does: it keeps a few rows in
** flight).  The strings live in 1 MiB arena blocks, so interning 100 M short
** ids costs one allocation per block, not per string, and record pointers
** stay valid until ns_strtab_free().
**
** The hash is word-at-a-time (a 64x64->128 multiply fold per 16 bytes, then
** the splitmix64 finalizer), ~4x cheaper than byte-wise FNV on 64-byte ids.
** The index order never depends on the hash, so outputs do not either.
*/
#include "base.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (1u << 20)
#define REC_HDR 8 /* u32 index + u32 length before the bytes */

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  char data[];
} arena_block;

typedef struct slot {
  uint64_t hash;        /* full hash of the string */
  const char *str;      /* the bytes of the record; NULL = empty slot */
} slot;

struct ns_strtab {
  slot *slots;
  size_t cap;           /* power of two */
  const char **strs;    /* index -> NUL-terminated string in the arena */
  size_t n, strs_cap;
  arena_block *arena;
};

static inline uint64_t fold(uint64_t a, uint64_t b) {
#ifdef __SIZEOF_INT128__
  __uint128_t p = (__uint128_t)a * b;
  return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
  /* 32x32 partial products folded: weaker mixing, same speed class */
  uint64_t lo = (a & 0xffffffffu) * (b >> 32), hi = (a >> 32) * (b & 0xffffffffu);
  return (a * b) ^ ((lo << 32) | (lo >> 32)) ^ hi;
#endif
}

uint64_t ns_strtab_hash(const char *s, size_t len) {
  const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  uint64_t h = 0x8ebc6af09c88c6e3ull ^ len, a, b;
  while (len >= 16) {
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    h = fold(a ^ k0, b ^ h ^ k1);
    s += 16;
    len -= 16;
  }
  if (len) {
    unsigned char tail[16] = {0};
    memcpy(tail, s, len);
    memcpy(&a, tail, 8);
    memcpy(&b, tail + 8, 8);
    h = fold(a ^ k0, b ^ h ^ k1);
  }
  return ns_hash64(h);
}

int ns_strtab_new(ns_strtab **out) {
  ns_strtab *t = ns_calloc(1, sizeof *t);
  *out = NULL;
  if (!t) return NS_ENOMEM;
  t->cap = 1024;
  t->slots = ns_calloc(t->cap, sizeof *t->slots);
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
  free(t);
}

static inline uint32_t rec_u32(const char *str, int field) {
  uint32_t v;
  memcpy(&v, str - REC_HDR + 4 * field, 4);
  return v;
}
#define REC_IDX(str) ((int32_t)rec_u32((str), 0))
#define REC_LEN(str) rec_u32((str), 1)

/* Copies s into a new record; returns a pointer to its bytes. */
static const char *arena_copy(ns_strtab *t, const char *s, size_t len, uint32_t idx) {
  arena_block *b = t->arena;
  size_t need = REC_HDR + len + 1;
  uint32_t l32 = (uint32_t)len;
  char *p;
  if (!b || b->cap - b->used < need) {
    size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
    b = ns_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = t->arena;
    b->used = 0;
    b->cap = cap;
    t->arena = b;
  }
  p = b->data + b->used;
  memcpy(p, &idx, 4);
  memcpy(p + 4, &l32, 4);
  memcpy(p + REC_HDR, s, len);
  p[REC_HDR + len] = '\0';
  /* keep records 8-aligned so a 64-byte id spans two cache lines, not three */
  b->used += (need + 7) & ~(size_t)7;
  if (b->used > b->cap) b->used = b->cap;
  return p + REC_HDR;
}

static int grow_slots(ns_strtab *t) {
  size_t nc = t->cap * 2;
  slot *ns = ns_calloc(nc, sizeof *ns);
  if (!ns) return NS_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    size_t j;
    if (!t->slots[i].str) continue;
    j = t->slots[i].hash & (nc - 1);
    while (ns[j].str) j = (j + 1) & (nc - 1);
    ns[j] = t->slots[i];
  }
  free(t->slots);
  t->slots = ns;
  t->cap = nc;
  return 0;
}

/* Slot holding s, or the empty slot where it would go. */
static size_t probe(const ns_strtab *t, const char *s, size_t len, uint64_t h) {
  size_t j = h & (t->cap - 1);
  for (;;) {
    const slot *e = &t->slots[j];
    if (!e->str) return j;
    if (e->hash == h && REC_LEN(e->str) == len && memcmp(e->str, s, len) == 0) return j;
    j = (j + 1) & (t->cap - 1);
  }
}

void ns_strtab_prefetch(const ns_strtab *t, uint64_t h, int deep) {
  const slot *e = &t->slots[h & (t->cap - 1)];
  if (!deep) {
    __builtin_prefetch(e);
    return;
  }
  /* the home slot should be in cache by now: start loading the record it
  ** points to (both lines of a 64-byte id) */
  if (e->str && e->hash == h) {
    __builtin_prefetch(e->str - REC_HDR);
    __builtin_prefetch(e->str + 56);
  }
}

int32_t ns_strtab_find(const ns_strtab *t, const char *s, size_t len) {
  const slot *e = &t->slots[probe(t, s, len, ns_strtab_hash(s, len))];
  return e->str ? REC_IDX(e->str) : -1;
}

int ns_strtab_intern_hashed(ns_strtab *t, const char *s, size_t len, uint64_t h, int32_t *out) {
  size_t j = probe(t, s, len, h);
  const char *copy;
  *out = -1;
  if (t->slots[j].str) {
    *out = REC_IDX(t->slots[j].str);
    return 0;
  }
  if (t->n >= INT32_MAX - 1 || len > UINT32_MAX - REC_HDR - 8) return NS_ERANGE;
  if (t->n == t->strs_cap) {
    size_t nc = t->strs_cap ? t->strs_cap * 2 : 1024;
    const char **a = ns_realloc(t->strs, nc * sizeof *a);
    if (!a) return NS_ENOMEM;
    t->strs = a;
    t->strs_cap = nc;
  }
  copy = arena_copy(t, s, len, (uint32_t)t->n);
  if (!copy) return NS_ENOMEM;
  t->strs[t->n] = copy;
  t->slots[j].hash = h;
  t->slots[j].str = copy;
  *out = (int32_t)t->n++;
  if (t->n * 2 > t->cap) return grow_slots(t);
  return 0;
}

int ns_strtab_intern(ns_strtab *t, const char *s, size_t len, int32_t *out) {
  return ns_strtab_intern_hashed(t, s, len, ns_strtab_hash(s, len), out);
}

const char *ns_strtab_str(const ns_strtab *t, int32_t idx) {
  if (idx < 0 || (size_t)idx >= t->n) return "";
  return t->strs[idx];
}

size_t ns_strtab_count(const ns_strtab *t) { return t->n; }
