/* simd.c - the library's one SIMD level: the best the CPU runs and the
 * build has, capped by the TG_SIMD environment variable, detected once.
 *
 * Every kernel with SIMD variants (GEMM in ops/kernels/, the optimizers'
 * update loops in nn/) has one source file per level, compiled with that
 * level's flags; autograd/core/meson.build lists the levels the compiler
 * builds and defines TG_HAVE_AVX2 / TG_HAVE_AVX512 for them. A kernel
 * calls the variant of tg_simd_level(), which is never a level the build
 * lacks. The CPU is asked once (pthread_once; __builtin_cpu_supports also
 * checks that the OS saves the wide registers), the level kept in an
 * atomic, so any thread may ask at any time; tg__simd_force changes it for
 * the tests.
 */
#include "tg_engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int best_level;            /* the CPU's and the build's best, capped by TG_SIMD */
static atomic_int cur_level = -1; /* -1 until detected */

bool tg__simd_supported(int level) {
    switch (level) {
    case TG_SIMD_PORTABLE: return true;
#if defined(TG_HAVE_AVX2)
    case TG_SIMD_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(TG_HAVE_AVX512)
    case TG_SIMD_AVX512: /* the compiler may use AVX2 and FMA there too */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default: return false;
    }
}

const char *tg_simd_name(tg_simd level) {
    switch (level) {
    case TG_SIMD_AVX2: return "avx2";
    case TG_SIMD_AVX512: return "avx512";
    default: return "portable";
    }
}

/* The best supported level <= level. */
static int clamp_level(int level) {
    if (level > TG_SIMD_AVX512) level = TG_SIMD_AVX512;
    while (level > TG_SIMD_PORTABLE && !tg__simd_supported(level)) level--;
    return level < TG_SIMD_PORTABLE ? TG_SIMD_PORTABLE : level;
}

static void detect_level(void) {
    int cap = TG_SIMD_AVX512;
    const char *env = getenv("TG_SIMD");
    if (env) {
        if (!strcmp(env, "portable")) cap = TG_SIMD_PORTABLE;
        else if (!strcmp(env, "avx2")) cap = TG_SIMD_AVX2;
        /* "avx512" or anything else: no cap */
    }
    best_level = clamp_level(cap);
    atomic_store(&cur_level, best_level);
}

static pthread_once_t level_once = PTHREAD_ONCE_INIT;

int tg__simd_level(void) {
    int l = atomic_load_explicit(&cur_level, memory_order_relaxed);
    if (l >= 0) return l;
    pthread_once(&level_once, detect_level);
    return atomic_load(&cur_level);
}

tg_simd tg_simd_level(void) { return (tg_simd)tg__simd_level(); }

void tg__simd_force(int level) {
    pthread_once(&level_once, detect_level);
    atomic_store(&cur_level, level < 0 ? best_level : clamp_level(level));
}
