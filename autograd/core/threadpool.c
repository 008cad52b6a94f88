/* threadpool.c - the thread pool behind tg__parallel_for, and per-thread scratch.
 *
 * Workers (tg_get_num_threads() - 1 of them) start on the first parallel
 * call. Between jobs a worker spins on the job counter for SPIN_WORKER_NS
 * of wall time and then sleeps on a condition variable. The spin covers the
 * gaps between the parallel jobs of a training step (an MLP step's serial
 * parts between two GEMMs, Adam and the next batch's gather): a worker
 * woken from its sleep takes tens of microseconds (a VM's idle vCPU,
 * longer). With a fixed count of 4000 PAUSEs (~83 us on the 2-core EPYC
 * VM) the MLP benchmark's worker slept 147-245 times in 4 epochs, with
 * this spin 9 (bench/README.md, run under SCHED_FIFO). A worker that the
 * scheduler preempts is late whatever its spin; the caller then runs its
 * piece. The price: after the last job of a burst, each worker keeps one
 * core busy for up to SPIN_WORKER_NS before it sleeps (libgomp's default
 * spins longer). A job is cut into at most num_threads
 * contiguous pieces, piece k meant for participant k (the caller is 0).
 * Each piece is claimed before it runs (claim_gen below); the caller runs
 * piece 0 and then claims and runs every piece that no worker has claimed
 * yet, so a worker still waking from its sleep (tens of microseconds on a
 * loaded machine or a VM) delays nothing: the caller does its work, and
 * waits only for pieces that workers are running. The job's fields are
 * rewritten only after every piece has been claimed and has finished, and
 * a worker that wakes late finds its piece claimed and leaves it.
 *
 * One job at a time: `pool_use` is taken with trylock, so a second user
 * thread (each with its own tape), or a nested call from inside a piece,
 * simply runs its loop inline on its own thread. No deadlock, no
 * oversubscription.
 *
 * Scratch (GEMM packing buffers) is per thread, under a pthread key whose
 * destructor frees it when the thread exits, except for the pieces k >= 1
 * of a pool job, which use the pool's block of piece k (scratch_slot);
 * those go when the workers are joined, and the exiting thread's at
 * tg__pool_shutdown, which runs as a destructor at exit. valgrind sees no
 * leak.
 *
 * The worker list and the scratch are kept for the whole process, so they
 * come from tg__keep_malloc (alloc.c): each goes back to the allocator that
 * made it, whatever allocator is in force when it is freed.
 * tg_release_caches (which tg_set_allocator calls) joins the workers and
 * frees the calling thread's scratch; the pool starts again on the next
 * parallel call.
 *
 * With TG_HAVE_OPENMP, tg__parallel_for is an OpenMP loop instead (libgomp
 * keeps its threads to the end, so their scratch is still reachable then;
 * tg_release_caches frees it in a parallel region of as many threads as any
 * loop used).
 */
#include "tg_engine.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(TG_HAVE_OPENMP)
#include <omp.h>
#endif

#define TG_MAX_THREADS 256
#define SPIN_WORKER_NS 300000 /* wall time a worker spins before it sleeps (0.3 ms) */
#define SPIN_CLOCK_EVERY 256   /* polls between two looks at the clock */
#define SPIN_CALLER 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* --------------------------------------------------------- thread count */

static atomic_int want_threads; /* 0: not chosen yet */

static int default_threads(void) {
    const char *e = getenv("TG_NUM_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v > 0) return v > TG_MAX_THREADS ? TG_MAX_THREADS : (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > TG_MAX_THREADS ? TG_MAX_THREADS : (int)n;
}

void tg_set_num_threads(int n) {
    atomic_store(&want_threads, n <= 0 ? default_threads() : n > TG_MAX_THREADS ? TG_MAX_THREADS : n);
}

int tg_get_num_threads(void) {
    int n = atomic_load_explicit(&want_threads, memory_order_relaxed);
    if (n > 0) return n;
    n = default_threads();
    atomic_store(&want_threads, n);
    return n;
}

/* Pieces of at least `grain` items, at most one per thread. */
static int64_t piece_count(int64_t n, int64_t grain, int threads) {
    if (grain < 1) grain = 1;
    int64_t p = n / grain;
    return p < threads ? p : threads;
}

static inline void piece_range(int64_t n, int64_t pieces, int64_t k, int64_t *lo,
                               int64_t *hi) {
    int64_t q = n / pieces, r = n % pieces;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r);
}

/* --------------------------------------------------------------- scratch */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

/* A block is tg__keep_malloc's: [size_t capacity][pad to 64][capacity bytes]. */
static void scratch_free(void *raw) { tg__keep_free(raw); }
static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }
static void *scratch_data(void *raw) { return (char *)raw + 64; }

/* Inside a pool job, the piece this thread runs (0: none, or the caller's
 * own piece): pieces k >= 1 use the pool's block of piece k, whichever
 * thread runs them (the caller runs a late worker's piece), so each block
 * is grown by the pieces of the same size every job, and a warm loop
 * allocates nothing whatever the scheduling. */
static _Thread_local int scratch_slot;
static size_t *slot_raw[TG_MAX_THREADS]; /* under pool_use; [0] unused */

static size_t *scratch_block(size_t bytes) {
    size_t cap = (bytes + 65535) & ~(size_t)65535; /* grow in 64 KiB steps */
    if (cap < bytes || cap > SIZE_MAX - 128) return NULL;
    size_t *raw = tg__keep_malloc(cap + 64);
    if (raw) raw[0] = cap;
    return raw;
}

void *tg__thread_scratch(size_t bytes) {
    if (scratch_slot > 0) {
        size_t **slot = &slot_raw[scratch_slot];
        if (!*slot || (*slot)[0] < bytes) {
            tg__keep_free(*slot); /* the contents need not survive */
            *slot = scratch_block(bytes);
        }
        return *slot ? scratch_data(*slot) : NULL;
    }
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ok) return NULL;
    size_t *raw = pthread_getspecific(scratch_key);
    if (raw && raw[0] >= bytes) return scratch_data(raw);
    tg__keep_free(raw); /* the contents need not survive */
    pthread_setspecific(scratch_key, NULL);
    raw = scratch_block(bytes);
    if (!raw) return NULL;
    if (pthread_setspecific(scratch_key, raw) != 0) {
        tg__keep_free(raw);
        return NULL;
    }
    return scratch_data(raw);
}

static void scratch_release_self(void) {
    if (!scratch_ok) return;
    void *raw = pthread_getspecific(scratch_key);
    if (raw) {
        pthread_setspecific(scratch_key, NULL);
        tg__keep_free(raw);
    }
}

#if defined(TG_HAVE_OPENMP)
/* ------------------------------------------------------- OpenMP variant */

static atomic_int most_threads; /* the largest team a loop has used */

void tg__parallel_for(int64_t n, int64_t grain, tg_range_fn fn, void *ctx) {
    if (n <= 0) return;
    int64_t pieces = piece_count(n, grain, tg_get_num_threads());
    if (pieces <= 1 || omp_in_parallel()) {
        fn(ctx, 0, n);
        return;
    }
    for (int m = atomic_load(&most_threads); m < pieces;)
        if (atomic_compare_exchange_weak(&most_threads, &m, (int)pieces)) break;
#pragma omp parallel for num_threads((int)pieces) schedule(static, 1)
    for (int64_t k = 0; k < pieces; k++) {
        int64_t lo, hi;
        piece_range(n, pieces, k, &lo, &hi);
        fn(ctx, lo, hi);
    }
}

bool tg_release_caches(void) {
    if (omp_in_parallel()) {
        scratch_release_self();
        return false;
    }
    int team = atomic_load(&most_threads);
    if (team > 1) {
#pragma omp parallel num_threads(team)
        scratch_release_self();
    }
    scratch_release_self();
    return true;
}

/* At exit libgomp may be gone already: this thread's scratch alone. */
__attribute__((destructor)) void tg__pool_shutdown(void) { scratch_release_self(); }

#else
/* ------------------------------------------------------------------ pool */

static pthread_mutex_t pool_use = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t pool_m = PTHREAD_MUTEX_INITIALIZER;   /* guards the sleeps */
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;    /* workers wait here */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;    /* the caller waits here */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static pthread_t *workers; /* (nworkers,) under pool_use */
static int nworkers;
static int built_for; /* the thread count the workers were started for */

/* The current job: written by the caller before job_gen moves, read by the
 * workers after they see it move. */
static struct {
    tg_range_fn fn;
    void *ctx;
    int64_t n, pieces;
} job;
static atomic_uint job_gen;
/* claim_gen[k]: the last job generation in which piece k was claimed (or,
 * for k >= the job's pieces, marked as having none). Generations only move
 * forward, so a claim for generation g succeeds only while piece k's value
 * is older than g: once per job, and never for a job that has finished. */
static atomic_uint claim_gen[TG_MAX_THREADS];
static atomic_int running;       /* workers between waking for a job and letting go of it */
static atomic_int sleepers;      /* workers asleep on work_cv */
static atomic_bool caller_waits; /* the caller is asleep on done_cv */
static atomic_bool quit;

/* Piece k belongs to participant k (the caller is 0, worker i is i + 1),
 * and runs it whenever its worker is awake in time; the caller runs a
 * worker's piece only when that worker is late. Either way piece k >= 1
 * packs its GEMM operands in the pool's scratch block k (scratch_slot),
 * grown by the same piece every job. */
static void run_piece(int64_t k) {
    if (k >= job.pieces) return;
    int64_t lo, hi;
    piece_range(job.n, job.pieces, k, &lo, &hi);
    int slot = scratch_slot;
    scratch_slot = (int)k;
    job.fn(job.ctx, lo, hi);
    scratch_slot = slot;
}

/* Piece k of generation g for the calling thread; false if it is taken. */
static bool claim(int64_t k, unsigned g) {
    unsigned c = atomic_load(&claim_gen[k]);
    while ((int)(g - c) > 0)
        if (atomic_compare_exchange_weak(&claim_gen[k], &c, g)) return true;
    return false;
}

/* CLOCK_MONOTONIC in ns; INT64_MAX when there is no clock (sleep at once). */
static int64_t now_ns(void) {
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return INT64_MAX;
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Sequentially consistent atomics on both sides (job_gen then sleepers
 * here, sleepers then job_gen in the worker) make a lost wake-up
 * impossible; likewise running / caller_waits. A worker counts itself in
 * `running` before it claims, so a caller that found a piece claimed sees
 * the worker running it. */
static unsigned wait_job(unsigned seen) {
    unsigned g;
    int64_t until = 0;
    for (unsigned s = 1;; s++) {
        if ((g = atomic_load(&job_gen)) != seen) return g;
        cpu_relax();
        if (s % SPIN_CLOCK_EVERY == 0) {
            int64_t t = now_ns();
            if (!until) until = t == INT64_MAX ? t : t + SPIN_WORKER_NS;
            else if (t >= until) break;
        }
    }
    pthread_mutex_lock(&pool_m);
    atomic_fetch_add(&sleepers, 1);
    while ((g = atomic_load(&job_gen)) == seen) pthread_cond_wait(&work_cv, &pool_m);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&pool_m);
    return g;
}

static void *worker_main(void *arg) {
    /* arg: the job generation at start (high bits) and this worker's piece */
    unsigned seen = (unsigned)((uint64_t)(uintptr_t)arg >> 16);
    int64_t self = (int64_t)((uintptr_t)arg & 0xffff);
    for (;;) {
        seen = wait_job(seen);
        if (atomic_load(&quit)) break;
        atomic_fetch_add(&running, 1);
        if (claim(self, seen)) run_piece(self);
        if (atomic_fetch_sub(&running, 1) == 1 && atomic_load(&caller_waits)) {
            pthread_mutex_lock(&pool_m);
            pthread_cond_signal(&done_cv);
            pthread_mutex_unlock(&pool_m);
        }
    }
    return NULL; /* the scratch key's destructor frees this thread's buffer */
}

static void post_job(void) {
    atomic_fetch_add(&job_gen, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&pool_m);
        pthread_cond_broadcast(&work_cv);
        pthread_mutex_unlock(&pool_m);
    }
}

/* Under pool_use. */
static void stop_workers(void) {
    built_for = 0;
    for (int k = 1; k < TG_MAX_THREADS; k++) {
        tg__keep_free(slot_raw[k]);
        slot_raw[k] = NULL;
    }
    if (!nworkers) return;
    atomic_store(&quit, true);
    post_job();
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
    atomic_store(&quit, false);
    tg__keep_free(workers);
    workers = NULL;
    nworkers = 0;
}

/* fork(): the child has no workers; the caller of fork holds both locks. */
static void fork_prepare(void) {
    pthread_mutex_lock(&pool_use);
    pthread_mutex_lock(&pool_m);
}
static void fork_parent(void) {
    pthread_mutex_unlock(&pool_m);
    pthread_mutex_unlock(&pool_use);
}
static void fork_child(void) {
    workers = NULL; /* the parent's array stays the parent's */
    nworkers = 0;
    atomic_store(&running, 0); /* a parent's worker may have counted itself */
    built_for = 0;
    atomic_store(&sleepers, 0);
    pthread_cond_init(&work_cv, NULL);
    pthread_cond_init(&done_cv, NULL);
    pthread_mutex_unlock(&pool_m);
    pthread_mutex_unlock(&pool_use);
}
static void fork_register(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* Under pool_use: n workers, started with every signal blocked so that
 * signals keep going to the application's threads. */
static void start_workers(int n) {
    pthread_once(&fork_once, fork_register);
    workers = tg__keep_malloc((size_t)n * sizeof *workers);
    if (!workers) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned g = atomic_load(&job_gen);
    /* the new workers' pieces: free from the next job on, however long
     * ago (in generations, which wrap) they were last used */
    for (int k = 1; k <= n && k < TG_MAX_THREADS; k++) atomic_store(&claim_gen[k], g);
    while (nworkers < n &&
           pthread_create(&workers[nworkers], NULL, worker_main,
                          (void *)(uintptr_t)(((uint64_t)g << 16) | (uint64_t)(nworkers + 1))) == 0)
        nworkers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!nworkers) {
        tg__keep_free(workers);
        workers = NULL;
    }
}

void tg__parallel_for(int64_t n, int64_t grain, tg_range_fn fn, void *ctx) {
    if (n <= 0) return;
    int threads = tg_get_num_threads();
    int64_t pieces = piece_count(n, grain, threads);
    if (pieces <= 1 || pthread_mutex_trylock(&pool_use) != 0) {
        fn(ctx, 0, n); /* small, one thread, nested, or the pool is busy */
        return;
    }
    if (built_for != threads) {
        stop_workers();
        start_workers(threads - 1);
        built_for = threads;
    }
    if (pieces > nworkers + 1) pieces = nworkers + 1;
    if (pieces <= 1) {
        pthread_mutex_unlock(&pool_use);
        fn(ctx, 0, n);
        return;
    }

    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.pieces = pieces;
    unsigned g = atomic_load(&job_gen) + 1; /* post_job's; only we post, under pool_use */
    for (int k = (int)pieces; k <= nworkers; k++) atomic_store(&claim_gen[k], g); /* no piece */
    post_job();
    run_piece(0);
    for (int64_t k = 1; k < pieces; k++) /* the pieces of workers not awake yet */
        if (claim(k, g)) run_piece(k);

    /* wait until the workers running pieces of this job have finished */
    for (int s = 0; s < SPIN_CALLER && atomic_load(&running) > 0; s++) cpu_relax();
    if (atomic_load(&running) > 0) {
        pthread_mutex_lock(&pool_m);
        atomic_store(&caller_waits, true);
        while (atomic_load(&running) > 0) pthread_cond_wait(&done_cv, &pool_m);
        atomic_store(&caller_waits, false);
        pthread_mutex_unlock(&pool_m);
    }
    pthread_mutex_unlock(&pool_use);
}

bool tg_release_caches(void) {
    /* while a job runs (on another thread, or this call is made from inside
     * one), leave the pool be */
    bool free_pool = pthread_mutex_trylock(&pool_use) == 0;
    if (free_pool) {
        stop_workers();
        pthread_mutex_unlock(&pool_use);
    }
    scratch_release_self();
    return free_pool;
}

__attribute__((destructor)) void tg__pool_shutdown(void) { (void)tg_release_caches(); }
#endif

/* The public form (tg_autograd.h), for libraries on top (nn/). */
void tg_parallel_for(int64_t n, int64_t grain, tg_range_fn fn, void *ctx) {
    if (fn) tg__parallel_for(n, grain, fn, ctx);
}
