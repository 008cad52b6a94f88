/* alloc.c - the one allocator every allocation in the library goes through. */
#include "tg_engine.h"

#include <stdlib.h>

static void *libc_malloc(size_t n, void *ud) { (void)ud; return malloc(n); }
static void *libc_realloc(void *p, size_t n, void *ud) { (void)ud; return realloc(p, n); }
static void libc_free(void *p, void *ud) { (void)ud; free(p); }

static tg_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void tg_set_allocator(const tg_allocator *a) {
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

/* The public pair, for nn/ and users (tg_autograd.h). */
void *tg_malloc(size_t n) { return tg__malloc(n); }
void tg_free(void *p) { tg__free(p); }
