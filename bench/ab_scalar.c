/* ab_scalar.c - two builds of libtapegrad, one process, the Rosenbrock
 * pass of bench_rosenbrock_scalar.c alternating between them: for a
 * change to scalar code's hot paths, whose effect (a few percent) is
 * smaller than this VM's drift between two runs of one program.
 *
 *     build-perfbench/bench/ab_scalar A/libtapegrad.so B/libtapegrad.so [rounds] [n]
 *
 * Each library is loaded with dlopen (RTLD_LOCAL: its own copy of every
 * symbol) and called through the public functions the pass uses. Each
 * round runs A's pass, then B's (thread CPU time), after two warm-up
 * rounds that page the slabs in. Prints the quartiles of each and B / A of
 * the medians, and fails if the two gradients differ in any bit. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tg_tensor tg_tensor;
typedef struct tg_tape tg_tape;

typedef struct lib {
    tg_tape *(*tape_new)(void);
    void (*tape_reset)(tg_tape *);
    void (*tape_free)(tg_tape *);
    tg_tensor *(*scalar)(tg_tape *, double);
    tg_tensor *(*requires_grad)(tg_tensor *);
    tg_tensor *(*add)(tg_tensor *, tg_tensor *);
    tg_tensor *(*sub)(tg_tensor *, tg_tensor *);
    tg_tensor *(*mul)(tg_tensor *, tg_tensor *);
    tg_tensor *(*mul_scalar)(tg_tensor *, double);
    tg_tensor *(*rsub_scalar)(tg_tensor *, double);
    int (*backward)(tg_tensor *);
    double (*grad_item)(const tg_tensor *);
} lib;

static int load(lib *l, const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return fprintf(stderr, "ab_scalar: %s\n", dlerror()), 0;
    struct {
        void *slot;
        const char *name;
    } sym[] = {
        {&l->tape_new, "tg_tape_new"},       {&l->tape_reset, "tg_tape_reset"},
        {&l->tape_free, "tg_tape_free"},     {&l->scalar, "tg_scalar"},
        {&l->requires_grad, "tg_requires_grad"}, {&l->add, "tg_add"},
        {&l->sub, "tg_sub"},                 {&l->mul, "tg_mul"},
        {&l->mul_scalar, "tg_mul_scalar"},   {&l->rsub_scalar, "tg_rsub_scalar"},
        {&l->backward, "tg_backward"},       {&l->grad_item, "tg_grad_item"},
    };
    for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++) {
        void *f = dlsym(h, sym[i].name);
        if (!f) return fprintf(stderr, "ab_scalar: %s: no %s\n", path, sym[i].name), 0;
        memcpy(sym[i].slot, &f, sizeof f); /* a data pointer into a function pointer */
    }
    return 1;
}

/* rosen_tg_pass of rosenbrock_scalar.h, through l. */
static void pass(const lib *l, tg_tape *t, int n, const double *x0, tg_tensor **x, double *g) {
    l->tape_reset(t);
    for (int i = 0; i < n; i++) x[i] = l->requires_grad(l->scalar(t, x0[i]));
    tg_tensor *y = l->scalar(t, 0.0);
    for (int i = 0; i < n - 1; i++) {
        tg_tensor *t1 = l->sub(x[i + 1], l->mul(x[i], x[i]));
        tg_tensor *t2 = l->rsub_scalar(x[i], 1.0);
        y = l->add(y, l->add(l->mul_scalar(l->mul(t1, t1), 100.0), l->mul(t2, t2)));
    }
    l->backward(y);
    for (int i = 0; i < n; i++) g[i] = l->grad_item(x[i]);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    lib A, B;
    if (argc < 3 || !load(&A, argv[1]) || !load(&B, argv[2])) {
        fprintf(stderr, "usage: ab_scalar A.so B.so [rounds] [n]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 25, n = argc > 4 ? atoi(argv[4]) : 1000000;
    if (rounds < 1 || n < 2) return 2;
    double *x0 = malloc((size_t)n * sizeof *x0), *ga = malloc((size_t)n * sizeof *ga);
    double *gb = malloc((size_t)n * sizeof *gb), *ta = malloc((size_t)rounds * sizeof *ta);
    double *tb = malloc((size_t)rounds * sizeof *tb);
    tg_tensor **x = malloc((size_t)n * sizeof *x);
    tg_tape *pa = A.tape_new(), *pb = B.tape_new();
    if (!x0 || !ga || !gb || !ta || !tb || !x || !pa || !pb) return 1;
    for (int i = 0; i < n; i++) x0[i] = 0.5 + 0.4 * sin(i);
    for (int r = -2; r < rounds; r++) {
        double t0 = cpu_now();
        pass(&A, pa, n, x0, x, ga);
        double t1 = cpu_now();
        pass(&B, pb, n, x0, x, gb);
        double t2 = cpu_now();
        if (r >= 0) ta[r] = t1 - t0, tb[r] = t2 - t1;
    }
    int same = memcmp(ga, gb, (size_t)n * sizeof *ga) == 0;
    qsort(ta, (size_t)rounds, sizeof *ta, cmp);
    qsort(tb, (size_t)rounds, sizeof *tb, cmp);
    printf("ab_scalar: n %d, %d rounds: A %.4f / %.4f / %.4f s, B %.4f / %.4f / %.4f s "
           "(quartiles), B / A %.3f, gradients %s\n",
           n, rounds, ta[rounds / 4], ta[rounds / 2], ta[3 * rounds / 4], tb[rounds / 4],
           tb[rounds / 2], tb[3 * rounds / 4], tb[rounds / 2] / ta[rounds / 2],
           same ? "bit-identical" : "DIFFER");
    A.tape_free(pa), B.tape_free(pb);
    free(x0), free(ga), free(gb), free(ta), free(tb), free(x);
    return !same;
}
