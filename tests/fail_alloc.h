/* fail_alloc.h - an allocator (tg_allocator) whose fail_at-th call fails:
 * the out-of-memory tests (test_oom.c, test_segment.c) install
 *     tg_allocator a = {f_malloc, f_realloc, f_free, NULL};
 * set calls = 0 and fail_at = k, and see the k-th allocation from there
 * fail (fail_at = -1: none fails). */
#ifndef TG_TEST_FAIL_ALLOC_H
#define TG_TEST_FAIL_ALLOC_H

#include <stdlib.h>

static long fail_at = -1, calls;
static void *f_malloc(size_t n, void *ud) {
    (void)ud;
    return ++calls == fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    return ++calls == fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *ud) { (void)ud; free(p); }

#endif /* TG_TEST_FAIL_ALLOC_H */
