/* test_alloc_owner.c - every block goes back to the allocator that made
 * it, and a user's allocator holds nothing of the library's once the last
 * tape and parameter are freed and the allocator is replaced.
 *
 * The library keeps some blocks for the whole process: the thread pool's
 * workers and each thread's GEMM packing scratch. The allocators here put a
 * header before each block (a plain malloc pointer would hide a block freed
 * by the wrong allocator: the C library's free takes both), count the live
 * bytes of each allocator, and report a block handed to the wrong one. The
 * C library's free given one of their blocks is an invalid free, which
 * valgrind and ASan catch (and glibc aborts on). */
#include "tg_test.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct owner { /* the pool's workers allocate too: atomics */
    const char *name;
    _Atomic long long live; /* bytes handed out and not yet freed */
    atomic_long foreign;    /* blocks of another allocator given to this one */
} owner;

/* [owner *][size][pad to 32 bytes][block] */
enum { HDR = 32 };

static void *o_malloc(size_t n, void *ud) {
    unsigned char *raw = malloc(n + HDR);
    if (!raw) return NULL;
    ((owner **)raw)[0] = ud;
    ((size_t *)raw)[1] = n;
    atomic_fetch_add(&((owner *)ud)->live, (long long)n);
    return raw + HDR;
}

/* The raw block behind p; counts p against its real owner. */
static unsigned char *o_take(void *p, owner *o) {
    unsigned char *raw = (unsigned char *)p - HDR;
    owner *real = ((owner **)raw)[0];
    if (real != o) {
        atomic_fetch_add(&o->foreign, 1);
        fprintf(stderr, "a block of allocator %s was given to %s\n", real->name, o->name);
    }
    atomic_fetch_sub(&real->live, (long long)((size_t *)raw)[1]);
    return raw;
}

static void o_free(void *p, void *ud) {
    if (p) free(o_take(p, ud));
}

static void *o_realloc(void *p, size_t n, void *ud) {
    if (!p) return o_malloc(n, ud);
    void *q = o_malloc(n, ud);
    if (!q) return NULL;
    size_t old = ((size_t *)((unsigned char *)p - HDR))[1];
    memcpy(q, p, old < n ? old : n);
    o_free(p, ud);
    return q;
}

static owner A = {"A", 0, 0}, B = {"B", 0, 0};
static const tg_allocator alloc_a = {o_malloc, o_realloc, o_free, &A};
static const tg_allocator alloc_b = {o_malloc, o_realloc, o_free, &B};

/* A 160 x 160 f32 matmul and its backward on a fresh tape: large enough
 * for the packed GEMM (scratch) on the pool's threads (the report had
 * 512 x 512; any size past TG_GEMM_THREAD_MIN does, and valgrind is slow). */
static void big_matmul(void) {
    tg_tape *t = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_tensor *a = tg_requires_grad(tg_rand_normal(t, TG_F32, TG_SHAPE(160, 160), &rng, 0, 1));
    tg_tensor *b = tg_rand_normal(t, TG_F32, TG_SHAPE(160, 160), &rng, 0, 1);
    tg_tensor *l = tg_sum(tg_matmul(a, b));
    CHECK(tg_backward(l) == TG_OK, "matmul backward: %s", tg_tape_error(t));
    tg_tape_free(t);
}

/* The sequence of the report: a custom allocator, a large matmul, the tape
 * freed, the default allocator back. */
static void test_restore_default(void) {
    tg_set_allocator(&alloc_a);
    big_matmul();
    CHECK(A.live > 0, "the matmul left no cache in A (nothing tested)");
    tg_set_allocator(NULL);
    CHECK(A.live == 0, "allocator A still holds %lld bytes after the default came back", A.live);
    /* the library keeps working on the default allocator, and a block
     * made now is not A's */
    big_matmul();
    CHECK(A.live == 0 && A.foreign == 0, "A: %lld bytes live, %ld foreign blocks", A.live,
          A.foreign);
}

/* From one custom allocator to another. */
static void test_switch(void) {
    tg_set_allocator(&alloc_a);
    big_matmul();
    tg_set_allocator(&alloc_b);
    CHECK(A.live == 0, "allocator A holds %lld bytes after B replaced it", A.live);
    big_matmul();
    tg_set_allocator(NULL);
    CHECK(B.live == 0, "allocator B holds %lld bytes after the default came back", B.live);
    CHECK(A.foreign == 0 && B.foreign == 0, "foreign blocks: A %ld, B %ld", A.foreign, B.foreign);
}

/* tg_release_caches with the allocator left in force: nothing of the
 * library's stays in it, and the next large op makes its caches again. */
static void test_release(void) {
    tg_set_allocator(&alloc_a);
    big_matmul();
    long long held = A.live;
    tg_release_caches();
    CHECK(A.live == 0, "allocator A holds %lld bytes after tg_release_caches (%lld before)",
          A.live, held);
    big_matmul();
    CHECK(A.live > 0, "the caches were not made again (GEMM scratch, workers)");
    tg_set_allocator(NULL);
    CHECK(A.live == 0 && A.foreign == 0, "A: %lld bytes live, %ld foreign blocks", A.live,
          A.foreign);
}

/* A thread of the user's makes its scratch under A and exits after the
 * allocator changed to B: its scratch goes back to A. */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void *user_thread(void *arg) {
    (void)arg;
    tg_set_num_threads(1); /* the whole matmul on this thread */
    big_matmul();
    pthread_mutex_lock(&m);
    stage = 1;
    pthread_cond_broadcast(&cv);
    while (stage != 2) pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    return NULL; /* the scratch goes now, at thread exit */
}

static void test_thread_exit(void) {
#if defined(TG_HAVE_CBLAS)
    /* -Dblas=enabled: the matmul goes to CBLAS, which packs in buffers of
     * its own; the thread would make no scratch of ours */
    return;
#endif
    tg_set_allocator(&alloc_a);
    pthread_t th;
    stage = 0;
    CHECK(pthread_create(&th, NULL, user_thread, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&m);
    while (stage != 1) pthread_cond_wait(&cv, &m);
    CHECK(A.live > 0, "the thread's matmul made no scratch under A");
    tg_set_allocator(&alloc_b);
    stage = 2;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    pthread_join(th, NULL);
    tg_set_num_threads(2);
    tg_set_allocator(NULL);
    CHECK(A.live == 0 && B.live == 0, "live after the thread exited: A %lld, B %lld", A.live,
          B.live);
    CHECK(A.foreign == 0 && B.foreign == 0, "foreign blocks: A %ld, B %ld", A.foreign, B.foreign);
}

int main(void) {
    tg_set_num_threads(2);
    test_restore_default();
    test_switch();
    test_release();
    test_thread_exit();
    /* at exit the library frees what it keeps through the C library's
     * free: a block of A's or B's there is an invalid free */
    return TEST_DONE("alloc_owner");
}
