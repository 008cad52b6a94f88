/* alloc.c - the one allocator every allocation in the library goes through.
 *
 * Two kinds of block. Those of a tape, a parameter or nn/ are freed when
 * their owner is, through the allocator in force then (tg_core.h asks that
 * it be the one that made them). Those the library keeps for the whole
 * process (the thread pool's worker list, each thread's GEMM scratch:
 * threadpool.c) outlive any owner the user frees, so each remembers the
 * allocator that made it and goes back to that one (tg__keep_malloc,
 * tg__keep_free); tg_set_allocator first gives them all back
 * (tg_release_caches), so that the allocator it replaces holds nothing of
 * the library's once the user's tapes and parameters are freed. */
#include "tg_engine.h"

#include <stdlib.h>

static void *libc_malloc(size_t n, void *ud) { (void)ud; return malloc(n); }
static void *libc_realloc(void *p, size_t n, void *ud) { (void)ud; return realloc(p, n); }
static void libc_free(void *p, void *ud) { (void)ud; free(p); }

static tg_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void tg_set_allocator(const tg_allocator *a) {
    tg_release_caches(); /* through the allocator that made them */
    if (a && a->malloc && a->realloc && a->free)
        current = *a;
    else
        current = (tg_allocator){libc_malloc, libc_realloc, libc_free, NULL};
}

void *tg__malloc(size_t n) { return current.malloc(n ? n : 1, current.ud); }

void *tg__calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = tg__malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *tg__realloc(void *p, size_t n) { return current.realloc(p, n ? n : 1, current.ud); }

void tg__free(void *p) {
    if (p) current.free(p, current.ud);
}

/* A kept block: [pad][keep_hdr][n bytes, 64-byte aligned]. */
typedef struct keep_hdr {
    tg_allocator by; /* the allocator that made it */
    void *raw;       /* what by.malloc returned */
} keep_hdr;

void *tg__keep_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(keep_hdr) - 64) return NULL;
    tg_allocator by = current;
    char *raw = by.malloc(n + sizeof(keep_hdr) + 64, by.ud);
    if (!raw) return NULL;
    char *p = (char *)(((uintptr_t)raw + sizeof(keep_hdr) + 63) & ~(uintptr_t)63);
    keep_hdr *h = (keep_hdr *)p - 1;
    h->by = by;
    h->raw = raw;
    return p;
}

void tg__keep_free(void *p) {
    if (!p) return;
    keep_hdr *h = (keep_hdr *)p - 1;
    tg_allocator by = h->by;
    by.free(h->raw, by.ud);
}

/* The public pair, for nn/ and users (tg_autograd.h). */
void *tg_malloc(size_t n) { return tg__malloc(n); }
void tg_free(void *p) { tg__free(p); }
