/* test_optim.c - every optimizer against a 20-step PyTorch trajectory
 * (tests/ref_optim.py -> tests/ref/optim.txt: same start, same loss, every
 * hyperparameter), schedules against PyTorch's lr sequences
 * (tests/ref/sched.txt), clipping, the state list (a checkpoint
 * round trip), zero allocations in a steady training loop, bad input.
 *
 * usage: test_optim <ref/optim.txt> <ref/sched.txt> */
#include <float.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include "tg_test.h"

/* ------------------------------------------------- a counting allocator */

static long n_malloc;
static void *count_malloc(size_t n, void *ud) { (void)ud; n_malloc++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *ud) { (void)ud; n_malloc++; return realloc(p, n); }
static void count_free(void *p, void *ud) { (void)ud; free(p); }

/* ------------------------------------------------------------ the ref file */


/* Reads one line into tokens (long lines: the rest of the numbers follow
 * in `rest`). Returns false at the end of the file. */
static bool read_line(FILE *f, char *buf, size_t cap) { return fgets(buf, (int)cap, f) != NULL; }

/* The doubles after the first `skip` words of buf. Returns the count. */
static int numbers(const char *buf, int skip, double *out, int max) {
    const char *p = buf;
    char word[64];
    int used, k = 0;
    for (int i = 0; i < skip && sscanf(p, "%63s%n", word, &used) == 1; i++) p += used;
    while (k < max && sscanf(p, "%lf%n", &out[k], &used) == 1) p += used, k++;
    return k;
}

static double X[15], Y[20];

/* mean((X @ w + b - Y)^2) + 0.1 sum(w^4) + 0.5 sum(10 (b1 - b0^2)^2 + (1 - b0)^2)
 * with b0 = b[:-1], b1 = b[1:] picked by constant matrices. */
static tg_tensor *loss_on(tg_tape *tape, tg_tensor *w, tg_tensor *b) {
    double s0[12] = {0}, s1[12] = {0};
    for (int i = 0; i < 3; i++) s0[i * 3 + i] = 1, s1[(i + 1) * 3 + i] = 1;
    tg_dtype dt = tg_tensor_dtype(w);
    tg_tensor *x = tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(5, 3), X), dt);
    tg_tensor *y = tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(5, 4), Y), dt);
    tg_tensor *S0 = tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(4, 3), s0), dt);
    tg_tensor *S1 = tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(4, 3), s1), dt);
    tg_tensor *wt = tg_param_on(tape, w), *bt = tg_param_on(tape, b);
    tg_tensor *r = tg_sub(tg_add(tg_matmul(x, wt), bt), y);
    tg_tensor *l = tg_mean(tg_mul(r, r));
    l = tg_add(l, tg_mul_scalar(tg_sum(tg_pow_scalar(wt, 4)), 0.1));
    tg_tensor *b0 = tg_matmul(bt, S0), *b1 = tg_matmul(bt, S1);
    tg_tensor *t1 = tg_sub(b1, tg_mul(b0, b0));
    tg_tensor *t2 = tg_rsub_scalar(b0, 1);
    tg_tensor *ros = tg_add(tg_mul_scalar(tg_mul(t1, t1), 10), tg_mul(t2, t2));
    return tg_add(l, tg_mul_scalar(tg_sum(ros), 0.5));
}

typedef struct model {
    tg_tape *tape;
    tg_params *ps;
    tg_tensor *w, *b;
} model;

static double closure(void *ud) {
    model *m = ud;
    tg_tape_reset(m->tape);
    tg_params_zero_grad(m->ps);
    tg_tensor *l = loss_on(m->tape, m->w, m->b);
    tg_backward(l);
    return tg_item(l);
}

static void model_init(model *m, tg_dtype dt, const double *init) {
    m->tape = tg_tape_new();
    m->ps = tg_params_new(dt);
    m->w = tg_params_add(m->ps, "w", TG_SHAPE(3, 4), 0);
    m->b = tg_params_add(m->ps, "b", TG_SHAPE(4), 0);
    for (int i = 0; i < 16; i++) {
        tg_tensor *t = i < 12 ? m->w : m->b;
        int k = i < 12 ? i : i - 12;
        if (dt == TG_F32) tg_tensor_f32(t)[k] = (float)init[i];
        else tg_tensor_f64(t)[k] = init[i];
    }
}

static void model_free(model *m) {
    tg_tape_free(m->tape);
    tg_params_free(m->ps);
}

static double model_get(const model *m, int i) {
    return i < 12 ? tg_tensor_get(m->w, i) : tg_tensor_get(m->b, i - 12);
}

/* The optimizer a case names, with its hyperparameters ("hp" line). */
static tg_optim *make_optim(const char *kind, const char *hp, tg_params *ps) {
    double lr = 0;
    tg_sgd_opts sgd = TG_SGD_DEFAULTS;
    tg_adam_opts adam = strcmp(kind, "adamw") ? TG_ADAM_DEFAULTS : TG_ADAMW_DEFAULTS;
    tg_rmsprop_opts rms = TG_RMSPROP_DEFAULTS;
    tg_adagrad_opts ada = TG_ADAGRAD_DEFAULTS;
    tg_lbfgs_opts lb = TG_LBFGS_DEFAULTS;
    const char *p = hp + 2;
    char key[40], val[40];
    int used;
    while (sscanf(p, "%39s %39s%n", key, val, &used) == 2) {
        p += used;
        double v = atof(val);
        bool known = true;
        if (!strcmp(key, "lr")) lr = v;
        else if (!strcmp(key, "momentum")) sgd.momentum = rms.momentum = v;
        else if (!strcmp(key, "dampening")) sgd.dampening = v;
        else if (!strcmp(key, "nesterov")) sgd.nesterov = v != 0;
        else if (!strcmp(key, "weight_decay"))
            sgd.weight_decay = adam.weight_decay = rms.weight_decay = ada.weight_decay = v;
        else if (!strcmp(key, "maximize")) sgd.maximize = adam.maximize = v != 0;
        else if (!strcmp(key, "amsgrad")) adam.amsgrad = v != 0;
        else if (!strcmp(key, "beta1")) adam.beta1 = v;
        else if (!strcmp(key, "beta2")) adam.beta2 = v;
        else if (!strcmp(key, "eps")) adam.eps = rms.eps = ada.eps = v;
        else if (!strcmp(key, "alpha")) rms.alpha = v;
        else if (!strcmp(key, "centered")) rms.centered = v != 0;
        else if (!strcmp(key, "lr_decay")) ada.lr_decay = v;
        else if (!strcmp(key, "initial_accumulator_value")) ada.initial_accumulator = v;
        else if (!strcmp(key, "max_iter")) lb.max_iter = (int)v;
        else if (!strcmp(key, "history_size")) lb.history_size = (int)v;
        else if (!strcmp(key, "line_search_fn")) lb.strong_wolfe = !strcmp(val, "strong_wolfe");
        else known = false;
        CHECK(known, "unknown hyperparameter %s", key);
    }
    if (!strcmp(kind, "sgd")) return tg_sgd_new(ps, lr, &sgd);
    if (!strcmp(kind, "adam")) return tg_adam_new(ps, lr, &adam);
    if (!strcmp(kind, "adamw")) return tg_adamw_new(ps, lr, &adam);
    if (!strcmp(kind, "rmsprop")) return tg_rmsprop_new(ps, lr, &rms);
    if (!strcmp(kind, "adagrad")) return tg_adagrad_new(ps, lr, &ada);
    if (!strcmp(kind, "lbfgs")) return tg_lbfgs_new(ps, lr, &lb);
    return NULL;
}

static char lbuf[1 << 16];

/* One case: replays the optimizer from the same start and compares every
 * step with PyTorch (relative 1e-10 in f64); f32 runs the same steps and
 * must stay within 2e-4. Then counts allocations in steady steps. */
static void run_optim_case(FILE *f, const char *name) {
    char kind[16] = "", hp[512] = "";
    double init[16], want[16], loss_want = 0;
    model m64, m32;
    tg_optim *o64 = NULL, *o32 = NULL;
    bool started = false;
    int bad = 0, bad32 = 0, steps = 0;
    /* f32 follows the f64 path loosely: 2e-4 for the first-order methods;
     * L-BFGS builds its curvature pairs from differences of f32 gradients
     * (y = g' - g), which keep about half of f32's digits, so 5e-3 */
    double tol32 = 2e-4;
    while (read_line(f, lbuf, sizeof lbuf) && strncmp(lbuf, "end", 3)) {
        if (!strncmp(lbuf, "opt ", 4)) {
            sscanf(lbuf + 4, "%15s", kind);
            tol32 = strcmp(kind, "lbfgs") ? 2e-4 : 5e-3;
        }
        else if (!strncmp(lbuf, "hp ", 3)) snprintf(hp, sizeof hp, "%.500s", lbuf);
        else if (!strncmp(lbuf, "init ", 5)) {
            CHECK(numbers(lbuf, 2, init, 16) == 16, "%s: init", name);
            model_init(&m64, TG_F64, init);
            model_init(&m32, TG_F32, init);
            o64 = make_optim(kind, hp, m64.ps);
            o32 = make_optim(kind, hp, m32.ps);
            CHECK(o64 && o32, "%s: no optimizer for %s", name, hp);
            started = true;
        } else if (!strncmp(lbuf, "loss ", 5)) {
            numbers(lbuf, 2, &loss_want, 1);
        } else if (!strncmp(lbuf, "step ", 5) && o64) {
            CHECK(numbers(lbuf, 2, want, 16) == 16, "%s: step line", name);
            steps++;
            long before = n_malloc;
            if (!strcmp(kind, "lbfgs")) {
                double l = tg_lbfgs_step(o64, closure, &m64);
                CHECK(fabs(l - loss_want) <= 1e-10 * (1 + fabs(loss_want)),
                      "%s: step %d loss %.17g, torch %.17g", name, steps, l, loss_want);
                tg_lbfgs_step(o32, closure, &m32);
            } else {
                closure(&m64);
                CHECK(tg_optim_step(o64) == TG_OK, "%s: step", name);
                closure(&m32);
                tg_optim_step(o32);
            }
            /* from the third step on: the whole loop (reset, forward,
             * backward, step) allocates nothing (L-BFGS: once its history
             * is full, which the "small" cases reach in their first step) */
            if (steps >= 3 && (strcmp(kind, "lbfgs") || strstr(name, "small")))
                CHECK(n_malloc == before, "%s: step %d made %ld allocations", name, steps,
                      n_malloc - before);
            for (int i = 0; i < 16; i++) {
                double v = model_get(&m64, i), v32 = model_get(&m32, i);
                if (!(fabs(v - want[i]) <= 1e-10 * (1 + fabs(want[i]))) && !bad++)
                    fprintf(stderr, "  %s step %d [%d]: %.17g, torch %.17g\n", name, steps, i, v,
                            want[i]);
                if (!(fabs(v32 - want[i]) <= tol32 * (1 + fabs(want[i]))) && !bad32++)
                    fprintf(stderr, "  %s f32 step %d [%d]: %.9g, torch %.9g\n", name, steps, i,
                            v32, want[i]);
            }
        }
    }
    CHECK(started && steps > 0, "%s: incomplete case", name);
    CHECK(bad == 0, "%s: f64 trajectory differs from PyTorch", name);
    CHECK(bad32 == 0, "%s: f32 trajectory drifts from PyTorch's f64 one", name);
    CHECK(tg_optim_steps(o64) >= steps, "%s: step count %lld", name, (long long)tg_optim_steps(o64));
    if (started) {
        tg_optim_free(o64);
        tg_optim_free(o32);
        model_free(&m64);
        model_free(&m32);
    }
}

static void test_optim_ref(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    int cases = 0;
    while (read_line(f, lbuf, sizeof lbuf)) {
        if (lbuf[0] == 'X') CHECK(numbers(lbuf, 3, X, 15) == 15, "X");
        else if (lbuf[0] == 'Y') CHECK(numbers(lbuf, 3, Y, 20) == 20, "Y");
        else if (!strncmp(lbuf, "case ", 5)) {
            char name[64];
            sscanf(lbuf + 5, "%63s", name);
            run_optim_case(f, name);
            cases++;
        }
    }
    fclose(f);
    CHECK(cases >= 20, "only %d optimizer cases", cases);
}

/* ---------------------------------------------------------------- schedules */

static double hp_get(const char *hp, const char *key, double def) {
    const char *p = hp;
    char k[40], v[40];
    int used;
    while (sscanf(p, "%39s %39s%n", k, v, &used) == 2) {
        if (!strcmp(k, key)) return atof(v);
        p += used;
    }
    return def;
}

static void test_sched_ref(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char name[64] = "", hp[512] = "";
    static double metrics[256], lrs[256];
    int nmetrics = 0, cases = 0;
    while (read_line(f, lbuf, sizeof lbuf)) {
        if (!strncmp(lbuf, "case ", 5)) sscanf(lbuf + 5, "%63s", name), nmetrics = 0;
        else if (!strncmp(lbuf, "hp", 2)) snprintf(hp, sizeof hp, "%.500s", lbuf + 2);
        else if (!strncmp(lbuf, "metrics ", 8)) nmetrics = numbers(lbuf, 2, metrics, 256);
        else if (!strncmp(lbuf, "lr ", 3)) {
            int n = numbers(lbuf, 2, lrs, 256);
            tg_params *ps = tg_params_new(TG_F64);
            tg_params_add(ps, "p", TG_SHAPE(1), 0);
            tg_optim *opt = tg_sgd_new(ps, 0.1, NULL);
            tg_sched *s = NULL;
            if (!strncmp(name, "steplr", 6) || !strcmp(name, "step"))
                s = tg_sched_steplr_new(opt, (int)hp_get(hp, "step_size", 0), hp_get(hp, "gamma", 0));
            else if (!strncmp(name, "multistep", 9)) {
                int ms[4];
                for (int i = 0; i < 4; i++) {
                    char k[4] = {'m', (char)('0' + i), 0};
                    ms[i] = (int)hp_get(hp, k, -1);
                }
                s = tg_sched_multistep_new(opt, 4, ms, hp_get(hp, "gamma", 0));
            } else if (!strncmp(name, "exponential", 11))
                s = tg_sched_exponential_new(opt, hp_get(hp, "gamma", 0));
            else if (!strncmp(name, "cosine", 6))
                s = tg_sched_cosine_new(opt, (int)hp_get(hp, "t_max", 0), hp_get(hp, "eta_min", 0));
            else if (!strncmp(name, "warmup", 6))
                s = tg_sched_warmup_new(opt, hp_get(hp, "start_factor", 0), hp_get(hp, "end_factor", 0),
                                        (int)hp_get(hp, "total_iters", 0));
            else if (!strncmp(name, "plateau", 7)) {
                tg_plateau_opts o = TG_PLATEAU_DEFAULTS;
                o.maximize = hp_get(hp, "maximize", 0) != 0;
                o.factor = hp_get(hp, "factor", o.factor);
                o.patience = (int)hp_get(hp, "patience", o.patience);
                o.threshold = hp_get(hp, "threshold", o.threshold);
                o.threshold_abs = hp_get(hp, "threshold_abs", 0) != 0;
                o.cooldown = (int)hp_get(hp, "cooldown", o.cooldown);
                o.min_lr = hp_get(hp, "min_lr", o.min_lr);
                o.eps = hp_get(hp, "eps", o.eps);
                s = tg_sched_plateau_new(opt, &o);
            }
            CHECK(s != NULL, "%s: no schedule", name);
            int bad = 0;
            for (int k = 0; s && k < n; k++) {
                if (k > 0) {
                    if (nmetrics) tg_sched_step_metric(s, metrics[k - 1]);
                    else tg_sched_step(s);
                }
                double lr = tg_optim_lr(opt);
                if (!(fabs(lr - lrs[k]) <= 1e-12 * (1 + fabs(lrs[k]))) && !bad++)
                    fprintf(stderr, "  %s epoch %d: lr %.17g, torch %.17g\n", name, k, lr, lrs[k]);
            }
            CHECK(bad == 0, "%s: lr sequence differs from PyTorch", name);
            CHECK(!s || tg_sched_epoch(s) == n - 1, "%s: epoch %d", name, tg_sched_epoch(s));
            tg_sched_free(s);
            tg_optim_free(opt);
            tg_params_free(ps);
            cases++;
        }
    }
    fclose(f);
    CHECK(cases >= 8, "only %d schedule cases", cases);
}

/* ----------------------------------------------------------------- clipping */

static void test_clip(void) {
    tg_params *ps = tg_params_new(TG_F64);
    tg_tensor *a = tg_params_add(ps, "a", TG_SHAPE(2, 2), 0);
    tg_tensor *b = tg_params_add(ps, "b", TG_SHAPE(3), 0);
    tg_tensor *buf = tg_params_add(ps, "running", TG_SHAPE(2), TG_PARAM_BUFFER);
    double ga[4] = {3, -4, 1, 2}, gb[3] = {-2, 0, 5};
    double sq = 9 + 16 + 1 + 4 + 4 + 0 + 25, norm = sqrt(sq);
    memcpy(tg_tensor_f64(tg_tensor_grad(a)), ga, sizeof ga);
    memcpy(tg_tensor_f64(tg_tensor_grad(b)), gb, sizeof gb);
    tg_tensor_f64(tg_tensor_grad(buf))[0] = 100; /* buffers are not clipped nor counted */
    double got = tg_clip_grad_norm(ps, 2.0, 2);
    CHECK_NEAR(got, norm, 1e-15);
    double c = 2.0 / (norm + 1e-6);
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(a), 1), -4 * c, 1e-15);
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(b), 2), 5 * c, 1e-15);
    CHECK(tg_tensor_get(tg_tensor_grad(buf), 0) == 100, "buffer grad clipped");
    /* below the limit: unchanged; the norm is still returned */
    double n2 = tg_clip_grad_norm(ps, 10.0, 2);
    CHECK_NEAR(n2, 2.0 / (norm + 1e-6) * norm, 1e-12);
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(a), 1), -4 * c, 1e-15);
    /* inf and 1 norms */
    memcpy(tg_tensor_f64(tg_tensor_grad(a)), ga, sizeof ga);
    memcpy(tg_tensor_f64(tg_tensor_grad(b)), gb, sizeof gb);
    CHECK_NEAR(tg_clip_grad_norm(ps, 100, INFINITY), 5, 1e-15);
    CHECK_NEAR(tg_clip_grad_norm(ps, 100, 1), 17, 1e-15);
    CHECK_NEAR(tg_clip_grad_norm(ps, 100, 3), cbrt(27 + 64 + 1 + 8 + 8 + 125), 1e-14);
    /* by value */
    tg_clip_grad_value(ps, 2.5);
    CHECK(tg_tensor_get(tg_tensor_grad(a), 0) == 2.5 && tg_tensor_get(tg_tensor_grad(a), 1) == -2.5 &&
              tg_tensor_get(tg_tensor_grad(a), 3) == 2 && tg_tensor_get(tg_tensor_grad(b), 0) == -2,
          "clip by value");
    CHECK(isnan(tg_clip_grad_norm(NULL, 1, 2)), "NULL list gives NaN");
    CHECK(isnan(tg_clip_grad_norm(ps, 1, 0)), "norm_type 0 gives NaN");
    tg_clip_grad_value(NULL, 1); /* no crash */
    tg_params_free(ps);
}

/* ------------------------------------------- optimizer state: checkpoints */

static void test_state(void) {
    double init[16];
    for (int i = 0; i < 16; i++) init[i] = 0.1 * (i % 7) - 0.3;
    model a, b, c;
    model_init(&a, TG_F64, init);
    model_init(&b, TG_F64, init);
    model_init(&c, TG_F64, init);
    tg_adam_opts ao = TG_ADAM_DEFAULTS;
    ao.amsgrad = true;
    tg_optim *oa = tg_adam_new(a.ps, 0.01, &ao), *ob = tg_adam_new(b.ps, 0.01, &ao);
    tg_optim *oc = tg_adam_new(c.ps, 0.01, &ao);
    for (int k = 0; k < 10; k++) closure(&a), tg_optim_step(oa);
    for (int k = 0; k < 5; k++) closure(&b), tg_optim_step(ob);
    tg_params *sb = tg_optim_state(ob), *sc = tg_optim_state(oc); /* c: made before any step */
    CHECK(sb && sc && tg_params_count(sb) == 7 && tg_params_count(sc) == 7, "state count %d",
          tg_params_count(sb));
    CHECK(!strcmp(tg_params_name(sb, 0), "adam.step"), "%s", tg_params_name(sb, 0));
    CHECK(!strcmp(tg_params_name(sb, 1), "adam.exp_avg.w"), "%s", tg_params_name(sb, 1));
    CHECK(!strcmp(tg_params_name(sb, 6), "adam.max_exp_avg_sq.b"), "%s", tg_params_name(sb, 6));
    CHECK(tg_params_is_buffer(sb, 3), "state entries are buffers");
    CHECK(tg_item(tg_params_find(sb, "adam.step")) == 5, "step count");
    CHECK(tg_params_find(sc, "adam.exp_avg_sq.w") && tg_tensor_numel(tg_params_find(sc, "adam.exp_avg_sq.w")) == 12,
          "state shape");
    /* "save" b (parameters and state) and "load" into c, then continue */
    for (int i = 0; i < tg_params_count(sb); i++) {
        tg_tensor *src = tg_params_at(sb, i), *dst = tg_params_find(sc, tg_params_name(sb, i));
        CHECK(dst != NULL, "missing %s", tg_params_name(sb, i));
        if (dst) memcpy(tg_tensor_f64(dst), tg_tensor_f64(src), (size_t)tg_tensor_numel(src) * 8);
    }
    for (int i = 0; i < tg_params_count(b.ps); i++)
        memcpy(tg_tensor_f64(tg_params_at(c.ps, i)), tg_tensor_f64(tg_params_at(b.ps, i)),
               (size_t)tg_tensor_numel(tg_params_at(b.ps, i)) * 8);
    for (int k = 0; k < 5; k++) closure(&c), tg_optim_step(oc);
    int bad = 0;
    for (int i = 0; i < 16; i++) bad += model_get(&a, i) != model_get(&c, i);
    CHECK(bad == 0, "resumed run differs from the uninterrupted one in %d values", bad);
    CHECK(tg_optim_steps(oc) == 10, "resumed step count %lld", (long long)tg_optim_steps(oc));
    /* sgd without momentum has only a step counter */
    tg_optim *os = tg_sgd_new(a.ps, 0.1, NULL);
    CHECK(tg_params_count(tg_optim_state(os)) == 1, "plain sgd state");
    /* a parameter added after the first step is an error, not a crash */
    tg_params_add(a.ps, "late", TG_SHAPE(2), 0);
    CHECK(tg_optim_step(oa) == TG_ERR_STATE, "late parameter");
    tg_optim_free(os);
    tg_optim_free(oa);
    tg_optim_free(ob);
    tg_optim_free(oc);
    model_free(&a);
    model_free(&b);
    model_free(&c);
}

/* ---------------------------------------------------------------- bad input */

static void test_bad(void) {
    tg_params *ps = tg_params_new(TG_F64);
    tg_params_add(ps, "p", TG_SHAPE(2), 0);
    CHECK(tg_sgd_new(NULL, 0.1, NULL) == NULL, "sgd NULL list");
    CHECK(tg_adam_new(NULL, 0.1, NULL) == NULL, "adam NULL list");
    CHECK(tg_sgd_new(ps, -1, NULL) == NULL, "negative lr");
    CHECK(tg_sgd_new(ps, NAN, NULL) == NULL, "NaN lr");
    tg_sgd_opts so = TG_SGD_DEFAULTS;
    so.nesterov = true; /* needs momentum */
    CHECK(tg_sgd_new(ps, 0.1, &so) == NULL, "nesterov without momentum");
    tg_adam_opts ao = TG_ADAM_DEFAULTS;
    ao.beta1 = 1.0;
    CHECK(tg_adam_new(ps, 0.1, &ao) == NULL, "beta1 = 1");
    tg_lbfgs_opts lo = TG_LBFGS_DEFAULTS;
    lo.history_size = 0;
    CHECK(tg_lbfgs_new(ps, 1, &lo) == NULL, "history 0");
    CHECK(tg_optim_step(NULL) == TG_ERR_NULL, "step NULL");
    tg_optim *lb = tg_lbfgs_new(ps, 1, NULL);
    CHECK(tg_optim_step(lb) == TG_ERR_STATE, "lbfgs needs a closure");
    CHECK(isnan(tg_lbfgs_step(lb, NULL, NULL)), "lbfgs NULL closure");
    tg_optim *ad = tg_adam_new(ps, 0.1, NULL);
    CHECK(isnan(tg_lbfgs_step(ad, closure, NULL)), "lbfgs_step on adam");
    CHECK(tg_sched_steplr_new(NULL, 3, 0.1) == NULL, "sched NULL optimizer");
    CHECK(tg_sched_steplr_new(ad, 0, 0.1) == NULL, "step_size 0");
    CHECK(tg_sched_cosine_new(ad, 0, 0) == NULL, "t_max 0");
    CHECK(tg_sched_warmup_new(ad, 0, 1, 5) == NULL, "start_factor 0");
    CHECK(isnan(tg_sched_step(NULL)), "sched step NULL");
    CHECK(tg_optim_state(NULL) == NULL, "state NULL");
    tg_optim_zero_grad(NULL);
    tg_optim_free(NULL);
    tg_sched_free(NULL);
    tg_optim_free(lb);
    tg_optim_free(ad);
    tg_params_free(ps);
}

/* Updates flush subnormals (nn/optim.c): the moment estimates of a
 * parameter whose gradient has stopped decay below FLT_MIN and are flushed
 * to zero instead of costing a hundred cycles an operation; the caller's
 * floating-point mode is restored. */
static void test_subnormal(void) {
    tg_params *ps = tg_params_new(TG_F32);
    tg_tensor *w = tg_params_add(ps, "w", TG_SHAPE(4), 0);
    tg_optim *opt = tg_adam_new(ps, 1e-3, NULL);
    CHECK(w && opt, "made");
    if (!w || !opt) return;
    float *g = tg_tensor_f32(tg_tensor_grad(w));
    for (int i = 0; i < 4; i++) g[i] = 1e-3f;
#if defined(__SSE2__)
    unsigned csr = _mm_getcsr();
#endif
    CHECK(tg_optim_step(opt) == TG_OK, "first step");
    for (int i = 0; i < 4; i++) g[i] = 0;
    /* m = 1e-4 * 0.9^t passes FLT_MIN (1.2e-38) near t = 760 */
    for (int t = 0; t < 1000; t++) tg_optim_step(opt);
#if defined(__SSE2__)
    CHECK(_mm_getcsr() == csr, "MXCSR restored after a step");
#endif
    tg_tensor *m = tg_params_find(tg_optim_state(opt), "adam.exp_avg.w");
    CHECK(m != NULL, "state exp_avg");
    /* valgrind's CPU ignores FTZ/DAZ: there the state does go subnormal */
    if (m && !getenv("TG_TEST_VALGRIND")) {
        const float *mv = tg_tensor_f32(m);
        bool tiny = true;
        for (int i = 0; i < 4; i++) tiny = tiny && (mv[i] == 0 || fabsf(mv[i]) >= FLT_MIN);
        CHECK(tiny, "no subnormal moment left: %g", (double)mv[0]);
    }
    tg_optim_free(opt);
    tg_params_free(ps);
}

/* A refused hyperparameter leaves a sentence naming it (tg_params_error). */
static void test_bad_messages(void) {
    struct { const char *want; int which; } cases[] = {
        {"sgd: the learning rate must be >= 0 (lr -1)", 0},
        {"sgd: nesterov needs momentum > 0 and dampening 0", 1},
        {"adam: beta1 must be in [0, 1)", 2},
        {"adamw: beta2 must be in [0, 1)", 3},
        {"rmsprop: alpha must be >= 0", 4},
        {"adagrad: lr_decay must be >= 0", 5},
        {"lbfgs: history_size must be > 0", 6},
        {"sgd: the learning rate must be >= 0 (lr nan)", 7},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_params *ps = tg_params_new(TG_F64);
        tg_params_add(ps, "p", TG_SHAPE(2), 0);
        tg_sgd_opts so = TG_SGD_DEFAULTS;
        tg_adam_opts ao = TG_ADAM_DEFAULTS, aw = TG_ADAMW_DEFAULTS;
        tg_rmsprop_opts ro = TG_RMSPROP_DEFAULTS;
        tg_adagrad_opts go = TG_ADAGRAD_DEFAULTS;
        tg_lbfgs_opts lo = TG_LBFGS_DEFAULTS;
        tg_optim *o = NULL;
        switch (cases[k].which) {
        case 0: o = tg_sgd_new(ps, -1, NULL); break;
        case 1: so.nesterov = true; o = tg_sgd_new(ps, 0.1, &so); break;
        case 2: ao.beta1 = 1.0; o = tg_adam_new(ps, 1e-3, &ao); break;
        case 3: aw.beta2 = -0.5; o = tg_adamw_new(ps, 1e-3, &aw); break;
        case 4: ro.alpha = -1; o = tg_rmsprop_new(ps, 1e-2, &ro); break;
        case 5: go.lr_decay = -1; o = tg_adagrad_new(ps, 1e-2, &go); break;
        case 6: lo.history_size = 0; o = tg_lbfgs_new(ps, 1, &lo); break;
        case 7: o = tg_sgd_new(ps, NAN, NULL); break;
        }
        CHECK(o == NULL && strstr(tg_params_error(ps), cases[k].want), "%s: got \"%s\"",
              cases[k].want, tg_params_error(ps));
        tg_optim_free(o);
        tg_params_free(ps);
    }
}

/* The learning rate is a finite number >= 0, whoever sets it: +Inf is
 * refused by every constructor, NaN, a negative or an infinite value by
 * tg_optim_set_lr and by schedules (each with a sentence); the lr stays as
 * it was and a step after a refusal keeps every weight finite. */
static tg_optim *make_opt(int which, tg_params *ps, double lr) {
    switch (which) {
    case 0: return tg_sgd_new(ps, lr, NULL);
    case 1: return tg_adam_new(ps, lr, NULL);
    case 2: return tg_adamw_new(ps, lr, NULL);
    case 3: return tg_rmsprop_new(ps, lr, NULL);
    case 4: return tg_adagrad_new(ps, lr, NULL);
    default: return tg_lbfgs_new(ps, lr, NULL);
    }
}

static bool weights_finite(tg_tensor *w) {
    const double *v = tg_tensor_f64(w);
    for (int64_t i = 0; i < tg_tensor_numel(w); i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static void test_lr_refused(void) {
    static const char *names[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"};
    for (int which = 0; which < 6; which++) {
        tg_params *ps = tg_params_new(TG_F64);
        tg_tensor *w = tg_params_add(ps, "w", TG_SHAPE(3), 0);
        CHECK(make_opt(which, ps, INFINITY) == NULL, "%s: lr inf accepted", names[which]);
        char want[96];
        snprintf(want, sizeof want, "%s: the learning rate must be finite (lr inf)", names[which]);
        CHECK(strstr(tg_params_error(ps), want), "%s: got \"%s\"", want, tg_params_error(ps));
        tg_params_free(ps);

        const double bad[] = {NAN, -0.5, INFINITY, -INFINITY};
        for (int k = 0; k < 4; k++) {
            ps = tg_params_new(TG_F64);
            w = tg_params_add(ps, "w", TG_SHAPE(3), 0);
            tg_optim *opt = make_opt(which, ps, 0.1);
            CHECK(opt != NULL, "%s: made", names[which]);
            if (!opt) {
                tg_params_free(ps);
                continue;
            }
            tg_status st = tg_optim_set_lr(opt, bad[k]);
            CHECK(st == TG_ERR_ARG, "%s: set_lr(%g) returned %s", names[which], bad[k],
                  tg_status_name(st));
            CHECK(tg_optim_lr(opt) == 0.1, "%s: set_lr(%g) changed the lr to %g", names[which],
                  bad[k], tg_optim_lr(opt));
            snprintf(want, sizeof want, "%s: set_lr: the learning rate must be", names[which]);
            CHECK(strstr(tg_params_error(ps), want), "%s (lr %g): got \"%s\"", want, bad[k],
                  tg_params_error(ps));
            if (which < 5) {
                double *g = tg_tensor_f64(tg_tensor_grad(w));
                for (int i = 0; i < 3; i++) g[i] = 0.25 * (i + 1);
                CHECK(tg_optim_step(opt) == TG_OK && weights_finite(w),
                      "%s: a step after set_lr(%g) wrote non-finite weights", names[which],
                      bad[k]);
            }
            tg_optim_free(opt);
            tg_params_free(ps);
        }
    }
    /* a good lr still goes through, 0 included */
    tg_params *ps = tg_params_new(TG_F64);
    tg_params_add(ps, "w", TG_SHAPE(3), 0);
    tg_optim *opt = tg_adam_new(ps, 0.1, NULL);
    CHECK(tg_optim_set_lr(opt, 0.0) == TG_OK && tg_optim_lr(opt) == 0.0, "set_lr(0)");
    CHECK(tg_optim_set_lr(opt, 0.02) == TG_OK && tg_optim_lr(opt) == 0.02, "set_lr(0.02)");
    CHECK(tg_optim_set_lr(NULL, 0.02) == TG_ERR_NULL, "set_lr(NULL)");
    CHECK(!tg_params_error(ps)[0], "an error after good set_lr calls: %s", tg_params_error(ps));

    /* schedules: a factor that makes a bad lr is refused when the schedule
     * is made... */
    tg_plateau_opts po = TG_PLATEAU_DEFAULTS;
    po.min_lr = NAN;
    CHECK(tg_sched_exponential_new(opt, NAN) == NULL, "exponential gamma NaN");
    CHECK(tg_sched_exponential_new(opt, -0.5) == NULL, "exponential gamma -0.5");
    CHECK(tg_sched_exponential_new(opt, INFINITY) == NULL, "exponential gamma inf");
    CHECK(tg_sched_steplr_new(opt, 2, NAN) == NULL, "steplr gamma NaN");
    CHECK(tg_sched_multistep_new(opt, 1, (const int[]){1}, -2) == NULL, "multistep gamma -2");
    CHECK(tg_sched_cosine_new(opt, 10, -1) == NULL, "cosine eta_min -1");
    CHECK(tg_sched_cosine_new(opt, 10, NAN) == NULL, "cosine eta_min NaN");
    CHECK(tg_sched_plateau_new(opt, &po) == NULL, "plateau min_lr NaN");
    po.min_lr = -1;
    CHECK(tg_sched_plateau_new(opt, &po) == NULL, "plateau min_lr -1");
    CHECK(tg_optim_lr(opt) == 0.02, "a refused schedule changed the lr to %g", tg_optim_lr(opt));
    /* ... and an lr that overflows on the way is refused at that epoch: the
     * optimizer keeps the last good one */
    tg_sched *s = tg_sched_exponential_new(opt, 1e300);
    CHECK(s != NULL, "exponential gamma 1e300");
    double l1 = tg_sched_step(s); /* 0.02e300 */
    double l2 = tg_sched_step(s); /* inf: refused */
    CHECK(l1 == 0.02 * 1e300 && isnan(l2), "schedule lrs %g, %g", l1, l2);
    CHECK(tg_optim_lr(opt) == l1 && tg_sched_lr(s) == l1 && tg_sched_epoch(s) == 1,
          "after the refusal: optimizer lr %g, schedule lr %g, epoch %d", tg_optim_lr(opt),
          tg_sched_lr(s), tg_sched_epoch(s));
    CHECK(strstr(tg_params_error(ps), "adam: set_lr: the learning rate must be finite (lr inf)"),
          "schedule overflow: got \"%s\"", tg_params_error(ps));
    tg_sched_free(s);
    tg_optim_free(opt);
    tg_params_free(ps);
}

/* A parameter of >= 32k elements is updated in pieces on the pool
 * (tg_parallel_for): the same numbers as on one thread, for a vector and
 * for a matrix (rows > 0: rows x n / rows). */
static void run_adam_big(int threads, float *out, int64_t n, int64_t rows) {
    tg_set_num_threads(threads);
    tg_params *ps = tg_params_new(TG_F32);
    int64_t shape[2] = {rows ? rows : n, rows ? n / rows : 1};
    tg_tensor *w = tg_params_add(ps, "w", rows ? 2 : 1, shape, 0);
    tg_optim *opt = tg_adam_new(ps, 1e-2, NULL);
    float *p = tg_tensor_f32(w), *g = tg_tensor_f32(tg_tensor_grad(w));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(i % 13) * 0.1f;
    for (int s = 0; s < 5; s++) {
        for (int64_t i = 0; i < n; i++) g[i] = (float)((i * (s + 3)) % 17) * 0.01f - 0.08f;
        tg_optim_step(opt);
    }
    memcpy(out, p, (size_t)n * sizeof *out);
    tg_optim_free(opt);
    tg_params_free(ps);
}

static void test_threaded_step(void) {
    enum { N = 100003, R = 101, C = 991 };
    static float one[R * C], two[R * C];
    run_adam_big(1, one, N, 0);
    run_adam_big(2, two, N, 0);
    CHECK(memcmp(one, two, N * sizeof *one) == 0, "Adam on 2 threads equals 1 thread");
    run_adam_big(1, one, R * C, 0);
    for (int t = 1; t <= 3; t++) {
        memset(two, 0, sizeof two);
        run_adam_big(t, two, R * C, R);
        CHECK(memcmp(one, two, R * C * sizeof *one) == 0,
              "Adam on a %d x %d matrix, %d threads, equals a vector on 1", R, C, t);
    }
    tg_set_num_threads(0);
}

/* tg_parallel_for covers [0, n) exactly once, inline or on threads. */
static void count_range(void *ctx, int64_t lo, int64_t hi) {
    unsigned char *hit = ctx;
    for (int64_t i = lo; i < hi; i++) hit[i]++;
}

static void test_parallel_for(void) {
    static unsigned char hit[200000];
    tg_set_num_threads(2);
    for (int k = 0; k < 3; k++) {
        int64_t n = k == 0 ? 10 : k == 1 ? 65536 : 200000;
        memset(hit, 0, sizeof hit);
        tg_parallel_for(n, 1024, count_range, hit);
        int64_t bad = 0;
        for (int64_t i = 0; i < (int64_t)sizeof hit; i++) bad += hit[i] != (i < n);
        CHECK(bad == 0, "tg_parallel_for n=%lld: %lld indices wrong", (long long)n, (long long)bad);
    }
    tg_parallel_for(0, 1, count_range, hit); /* nothing to do */
    tg_parallel_for(10, 1, NULL, NULL);      /* no function: ignored */
    tg_set_num_threads(0);
}

int main(int argc, char **argv) {
    SKIP_UNLESS_SIMD("optim"); /* the optim_<level> tests */
    tg_allocator al = {count_malloc, count_realloc, count_free, NULL};
    tg_set_allocator(&al);
    if (argc < 3) {
        fprintf(stderr, "usage: %s ref/optim.txt ref/sched.txt\n", argv[0]);
        return 2;
    }
    test_optim_ref(argv[1]);
    test_sched_ref(argv[2]);
    test_clip();
    test_state();
    test_bad();
    test_bad_messages();
    test_lr_refused();
    test_subnormal();
    test_threaded_step();
    test_parallel_for();
    return TEST_DONE("optim");
}
