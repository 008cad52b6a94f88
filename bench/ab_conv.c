/* ab_conv.c - two builds of libtapegrad, one process, bench_conv's step
 * (steps.h's small CNN: conv(1->32, 3x3) + relu + max_pool2d(2) +
 * conv(32->64, 3x3), the sum, backward) alternating between them: for a
 * change of a few percent, below this VM's drift between two runs of one
 * program (bench/README.md, "conv_fwd_bwd").
 *
 *     build-rel/bench/ab_conv A/libtapegrad.so B/libtapegrad.so [rounds] [threads]
 *
 * Each library is loaded with dlopen (RTLD_LOCAL: its own copy of every
 * symbol, its own thread pool) and called through the public functions the
 * step uses, on the same parameters and input. Each round runs 4 steps of
 * A, then 4 of B (after two warm-up rounds), and keeps each side's median
 * step: the thread's CPU time on 1 thread (the default), wall time on more.
 * Prints the forward, backward and step medians over the rounds, B / A of
 * each, and fails if the gradients (w1, b1, w2, b2 after each side's last
 * step) differ in any bit. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tapegrad.h> /* types and macros only: every call goes through a lib */

typedef struct lib {
    __typeof__(&tg_set_num_threads) set_num_threads;
    __typeof__(&tg_tape_new) tape_new;
    __typeof__(&tg_tape_reset) tape_reset;
    __typeof__(&tg_tape_free) tape_free;
    __typeof__(&tg_param_new) param_new;
    __typeof__(&tg_param_free) param_free;
    __typeof__(&tg_tensor_f32) tensor_f32;
    __typeof__(&tg_tensor_new) tensor_new;
    __typeof__(&tg_tensor_grad) tensor_grad;
    __typeof__(&tg_zero_grad) zero_grad;
    __typeof__(&tg_conv2d) conv2d;
    __typeof__(&tg_relu) relu;
    __typeof__(&tg_max_pool2d) max_pool2d;
    __typeof__(&tg_sum) sum;
    __typeof__(&tg_backward) backward;
} lib;

static int load(lib *l, const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return fprintf(stderr, "ab_conv: %s\n", dlerror()), 0;
    struct {
        void *slot;
        const char *name;
    } sym[] = {
        {&l->set_num_threads, "tg_set_num_threads"}, {&l->tape_new, "tg_tape_new"},
        {&l->tape_reset, "tg_tape_reset"},   {&l->tape_free, "tg_tape_free"},
        {&l->param_new, "tg_param_new"},     {&l->param_free, "tg_param_free"},
        {&l->tensor_f32, "tg_tensor_f32"},   {&l->tensor_new, "tg_tensor_new"},
        {&l->tensor_grad, "tg_tensor_grad"}, {&l->zero_grad, "tg_zero_grad"},
        {&l->conv2d, "tg_conv2d"},           {&l->relu, "tg_relu"},
        {&l->max_pool2d, "tg_max_pool2d"},   {&l->sum, "tg_sum"},
        {&l->backward, "tg_backward"},
    };
    for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++) {
        void *f = dlsym(h, sym[i].name);
        if (!f) return fprintf(stderr, "ab_conv: %s: no %s\n", path, sym[i].name), 0;
        memcpy(sym[i].slot, &f, sizeof f); /* a data pointer into a function pointer */
    }
    return 1;
}

/* The network of one library: parameters (w1 [32,1,3,3], b1 [32],
 * w2 [64,32,3,3], b2 [64]) and its tape. */
typedef struct net {
    const lib *l;
    tg_tape *tape;
    tg_tensor *p[4];
} net;

static const int64_t pshape[4][4] = {{32, 1, 3, 3}, {32, 0, 0, 0}, {64, 32, 3, 3}, {64, 0, 0, 0}};
static const int prank[4] = {4, 1, 4, 1};
static int64_t pnumel(int i) {
    int64_t n = 1;
    for (int d = 0; d < prank[i]; d++) n *= pshape[i][d];
    return n;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static float urand(void) { /* in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static int net_init(net *n, const lib *l, float *const vals[4]) {
    n->l = l;
    n->tape = l->tape_new();
    if (!n->tape) return 0;
    for (int i = 0; i < 4; i++) {
        n->p[i] = l->param_new(TG_F32, prank[i], pshape[i]);
        if (!n->p[i]) return 0;
        memcpy(l->tensor_f32(n->p[i]), vals[i], sizeof(float) * (size_t)pnumel(i));
    }
    return 1;
}

static double now(int th) {
    struct timespec ts;
    clock_gettime(th > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* steps.h's bench_cnn_step through n->l; t[0] forward, t[1] backward */
static int step(net *n, float *x, int th, double t[2]) {
    const lib *l = n->l;
    l->tape_reset(n->tape);
    for (int i = 0; i < 4; i++) l->zero_grad(n->p[i]);
    double t0 = now(th);
    tg_tensor *xt = l->tensor_new(n->tape, TG_F32, TG_SHAPE(32, 1, 28, 28), x);
    tg_tensor *h = l->relu(l->conv2d(xt, n->p[0], n->p[1], NULL));
    h = l->max_pool2d(h, &(tg_pool_opts){.kernel = {2, 2}});
    tg_tensor *loss = l->sum(l->conv2d(h, n->p[2], n->p[3], NULL));
    double t1 = now(th);
    tg_status st = l->backward(loss);
    double t2 = now(th);
    t[0] = t1 - t0, t[1] = t2 - t1;
    return st == TG_OK;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define PER 4 /* steps of each side a round */

int main(int argc, char **argv) {
    lib A, B;
    if (argc < 3 || !load(&A, argv[1]) || !load(&B, argv[2])) {
        fprintf(stderr, "usage: ab_conv A.so B.so [rounds] [threads]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 21, th = argc > 4 ? atoi(argv[4]) : 1;
    if (rounds < 1 || th < 1) return 2;
    A.set_num_threads(th), B.set_num_threads(th);
    float *x = malloc(sizeof(float) * 32 * 28 * 28), *vals[4];
    double *t = malloc(sizeof(double) * 6 * (size_t)rounds); /* [side][fwd, bw, step][round] */
    if (!x || !t) return 1;
    for (int i = 0; i < 32 * 28 * 28; i++) x[i] = urand();
    for (int i = 0; i < 4; i++) {
        vals[i] = malloc(sizeof(float) * (size_t)pnumel(i));
        if (!vals[i]) return 1;
        float s = i < 2 ? 1.0f / 3 : 1.0f / 17;
        for (int64_t k = 0; k < pnumel(i); k++) vals[i][k] = s * urand();
    }
    net na, nb;
    if (!net_init(&na, &A, vals) || !net_init(&nb, &B, vals)) return 1;
    for (int r = -2; r < rounds; r++)
        for (int side = 0; side < 2; side++) {
            double f[PER], b[PER], s[PER], tt[2];
            for (int k = 0; k < PER; k++) {
                if (!step(side ? &nb : &na, x, th, tt)) return fprintf(stderr, "ab_conv: step failed\n"), 1;
                f[k] = tt[0], b[k] = tt[1], s[k] = tt[0] + tt[1];
            }
            qsort(f, PER, sizeof *f, cmp), qsort(b, PER, sizeof *b, cmp), qsort(s, PER, sizeof *s, cmp);
            if (r >= 0) {
                double *o = t + (size_t)side * 3 * (size_t)rounds;
                o[r] = (f[1] + f[2]) / 2, o[rounds + r] = (b[1] + b[2]) / 2,
                o[2 * rounds + r] = (s[1] + s[2]) / 2;
            }
        }
    int same = 1;
    for (int i = 0; i < 4; i++)
        same &= memcmp(A.tensor_f32(A.tensor_grad(na.p[i])), B.tensor_f32(B.tensor_grad(nb.p[i])),
                       sizeof(float) * (size_t)pnumel(i)) == 0;
    static const char *part[3] = {"forward", "backward", "step"};
    printf("ab_conv: %d rounds of %d steps, %d thread%s (%s), ms, median (quartiles)\n", rounds,
           PER, th, th > 1 ? "s" : "", th > 1 ? "wall" : "thread CPU");
    for (int p = 0; p < 3; p++) {
        double *a = t + (size_t)p * (size_t)rounds, *bb = t + (size_t)(3 + p) * (size_t)rounds;
        qsort(a, (size_t)rounds, sizeof *a, cmp), qsort(bb, (size_t)rounds, sizeof *bb, cmp);
        printf("  %-8s A %.3f (%.3f-%.3f)  B %.3f (%.3f-%.3f)  B / A %.3f\n", part[p],
               1e3 * a[rounds / 2], 1e3 * a[rounds / 4], 1e3 * a[3 * rounds / 4],
               1e3 * bb[rounds / 2], 1e3 * bb[rounds / 4], 1e3 * bb[3 * rounds / 4],
               bb[rounds / 2] / a[rounds / 2]);
    }
    printf("  gradients %s\n", same ? "bit-identical" : "DIFFER");
    for (int i = 0; i < 4; i++) A.param_free(na.p[i]), B.param_free(nb.p[i]), free(vals[i]);
    A.tape_free(na.tape), B.tape_free(nb.tape);
    free(x), free(t);
    return !same;
}
