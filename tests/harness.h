/*
** tests/harness.h -- the in-house test harness.
**
** A test is `TEST(name) { ... }` in any tests/test_*.c file; the Makefile
** collects every TEST(...) into build/test-list.h, and tests/runner.c runs
** each one in its own process with a timeout.  Assertions print file:line,
** the expression and both values, then abort() -- the runner reports the
** test as failed and goes on.
*/
#ifndef NS_TEST_HARNESS_H
#define NS_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"

#define TEST(name) void ns_test_##name(void)

#define NS__FAIL(...)                                                        \
  do {                                                                       \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                          \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
    abort();                                                                 \
  } while (0)

#define ASSERT(expr)                                                         \
  do { if (!(expr)) NS__FAIL("assertion failed: %s", #expr); } while (0)

#define ASSERT_EQ(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_) NS__FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);        \
  } while (0)

#define ASSERT_NE(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ == b_) NS__FAIL("%s != %s: both %lld", #a, #b, a_);               \
  } while (0)

#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    int rc_ = (expr);                                                        \
    if (rc_ != 0) NS__FAIL("%s: %s (%d)", #expr, ns_strerror(rc_), rc_);     \
  } while (0)

#define ASSERT_ERR(expr, code)                                               \
  do {                                                                       \
    int rc_ = (expr);                                                        \
    if (rc_ != (code))                                                       \
      NS__FAIL("%s: got %s, want %s", #expr, ns_err_name(rc_), ns_err_name(code)); \
  } while (0)

#define ASSERT_NEAR(a, b, tol)                                               \
  do {                                                                       \
    double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);           \
    if (!(fabs(a_ - b_) <= t_))                                              \
      NS__FAIL("%s ~= %s: %.17g vs %.17g (diff %.3g > %.3g)", #a, #b, a_, b_, \
               fabs(a_ - b_), t_);                                           \
  } while (0)

#define ASSERT_STREQ(a, b)                                                   \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (strcmp(a_, b_) != 0) NS__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_); \
  } while (0)

/* A fresh empty directory for this test (under $TMPDIR); static storage. */
const char *ns_test_tmpdir(void);
/* Path of the built notescore binary (build/notescore, or $NS_BIN). */
const char *ns_test_bin(void);
/* Run a shell command; returns its exit status (or -1). */
int ns_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Read a whole file into a malloc'ed NUL-terminated buffer (NULL on error). */
char *ns_test_slurp(const char *path, size_t *len);

#endif
