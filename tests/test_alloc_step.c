/* test_alloc_step.c - a steady-state training step of the flagship recipe
 * (784-100-10 ReLU MLP, cross entropy, Adam; forward, backward, optimizer
 * step, zero grad, tape reset) performs no heap allocation: the tape's
 * arenas and the optimizer's state are reused from the first steps on.
 * Counts calls through tg_set_allocator on synthetic data, f32 and f64,
 * and checks the counter itself sees the warm-up allocations. */
#include "tg_test.h"

static long n_malloc, n_realloc, n_free;

static void *count_malloc(size_t n, void *ud) {
    (void)ud;
    n_malloc++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    n_realloc++;
    return realloc(p, n);
}
static void count_free(void *p, void *ud) {
    (void)ud;
    n_free++;
    free(p);
}

enum { B = 64, IN = 784, HID = 100, OUT = 10 };

/* One training step; returns the loss (NaN on error). */
static double step(tg_tape *tape, tg_sequential *mlp, tg_optim *opt, tg_dtype dt,
                   const void *xdata, const int64_t *labels) {
    tg_tensor *x = tg_tensor_new(tape, dt, 2, (int64_t[]){B, IN}, xdata);
    tg_tensor *y = tg_tensor_new(tape, TG_I64, 1, (int64_t[]){B}, labels);
    tg_tensor *l = tg_cross_entropy(tg_sequential_forward(mlp, x), y, TG_REDUCE_MEAN, -100, 0.0);
    tg_backward(l);
    double loss = l ? tg_item(l) : NAN;
    tg_optim_step(opt);
    tg_optim_zero_grad(opt);
    if (!tg_tape_ok(tape)) {
        fprintf(stderr, "tape error: %s\n", tg_tape_error(tape));
        loss = NAN;
    }
    tg_tape_reset(tape);
    return loss;
}

static void run(tg_dtype dt, int threads) {
    tg_set_num_threads(threads);
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    size_t es = dt == TG_F32 ? 4 : 8;
    unsigned char *xdata = malloc((size_t)B * IN * es);
    int64_t labels[B];
    for (int i = 0; i < B * IN; i++) {
        double v = tg_rng_uniform(&rng);
        if (dt == TG_F32)
            ((float *)xdata)[i] = (float)v;
        else
            ((double *)xdata)[i] = v;
    }
    for (int i = 0; i < B; i++) labels[i] = i % OUT;

    n_malloc = n_realloc = n_free = 0;
    tg_set_allocator(&(tg_allocator){count_malloc, count_realloc, count_free, NULL});
    tg_params *ps = tg_params_new(dt);
    tg_sequential *mlp = tg_mlp_new(ps, "mlp", (int64_t[]){IN, HID, OUT}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, 1e-3, NULL);
    tg_tape *tape = tg_tape_new();
    CHECK(ps && mlp && opt && tape, "setup failed");
    double first = NAN, last = NAN;
    /* warm-up: arenas grow, the optimizer makes its state */
    for (int s = 0; s < 3; s++) {
        double l = step(tape, mlp, opt, dt, xdata, labels);
        if (s == 0) first = l;
    }
    long warm = n_malloc + n_realloc;
    CHECK(warm > 0, "the counting allocator saw no allocation at all (dtype %d)", (int)dt);
    long m0 = n_malloc, r0 = n_realloc, f0 = n_free;
    for (int s = 0; s < 5; s++) last = step(tape, mlp, opt, dt, xdata, labels);
    CHECK(n_malloc == m0, "dtype %d, %d threads: %ld mallocs in 5 steady-state steps", (int)dt,
          threads, n_malloc - m0);
    CHECK(n_realloc == r0, "dtype %d, %d threads: %ld reallocs in 5 steady-state steps",
          (int)dt, threads, n_realloc - r0);
    CHECK(n_free == f0, "dtype %d, %d threads: %ld frees in 5 steady-state steps", (int)dt,
          threads, n_free - f0);
    /* the steps did train (same batch: the loss must fall) */
    CHECK(isfinite(first) && isfinite(last) && last < first,
          "loss did not fall: %g -> %g", first, last);
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_params_free(ps);
    CHECK(n_free > f0, "freeing released nothing through the allocator");
    tg_set_allocator(NULL);
    free(xdata);
}

int main(void) {
    run(TG_F32, 1);
    run(TG_F64, 1);
    run(TG_F32, 2);
    return TEST_DONE("alloc_step");
}
