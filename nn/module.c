/* module.c - the parameter list, activations, Linear, Sequential and the
 * MLP builder. Built on the public API alone (tapegrad.h).
 *
 * A tg_params is two growable arrays: the named tensors, and the blocks
 * (layers) it owns. Layers read the train/eval switch through their
 * `ps` pointer, so one call flips a whole model. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "layer_private.h"

typedef struct entry {
    char *name;
    tg_tensor *t;
    int flags;
} entry;

struct tg_params {
    tg_dtype dt;
    bool training;
    int n, cap;        /* named tensors */
    entry *e;
    int nown, capown;  /* owned blocks (layers) */
    void **own;
    tg_status status; /* the first error's code; TG_OK if none */
    char err[200];
};

void tg_params_fail(tg_params *ps, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* the code, from the sentence: construction fails for memory or for arguments */
    tg_status s = strstr(msg, "out of memory") ? TG_ERR_NOMEM : TG_ERR_ARG;
    tg_set_last_error(s, "%s", msg);
    if (!ps || ps->status != TG_OK) return;
    ps->status = s;
    memcpy(ps->err, msg, sizeof ps->err);
}

tg_status tg_params_status(const tg_params *ps) { return ps ? ps->status : TG_ERR_NULL; }

/* Grows an array of `size`-byte items to hold one more; false if no memory. */
static bool grow(void **arr, int *cap, int n, size_t size) {
    if (n < *cap) return true;
    int ncap = *cap ? 2 * *cap : 8;
    void *p = tg_malloc((size_t)ncap * size);
    if (!p) return false;
    if (n) memcpy(p, *arr, (size_t)n * size);
    tg_free(*arr);
    *arr = p;
    *cap = ncap;
    return true;
}

tg_params *tg_params_new(tg_dtype dt) {
    if (dt != TG_F32 && dt != TG_F64)
        return tg_params_fail(NULL, "params_new: dtype %s; layers are f32 or f64", tg_dtype_name(dt)),
               NULL;
    tg_params *ps = tg_malloc(sizeof *ps);
    if (!ps) return tg_params_fail(NULL, "params_new: out of memory"), NULL;
    memset(ps, 0, sizeof *ps);
    ps->dt = dt;
    ps->training = true;
    return ps;
}

void tg_params_free(tg_params *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) {
        tg_param_free(ps->e[i].t);
        tg_free(ps->e[i].name);
    }
    for (int i = 0; i < ps->nown; i++) tg_free(ps->own[i]);
    tg_free(ps->e);
    tg_free(ps->own);
    tg_free(ps);
}

tg_tensor *tg_params_adopt(tg_params *ps, const char *name, tg_tensor *p, int flags) {
    if (!ps || !name || !p || !tg_tensor_is_param(p)) {
        if (ps) tg_params_fail(ps, "params_add: %s", !name ? "name is NULL" : "not a parameter (tg_param_new)");
        tg_param_free(p);
        return NULL;
    }
    if (tg_params_find(ps, name)) {
        tg_params_fail(ps, "params_add: the name \"%s\" is already taken", name);
        tg_param_free(p);
        return NULL;
    }
    size_t len = strlen(name);
    char *copy = tg_malloc(len + 1);
    if (!copy || !grow((void **)&ps->e, &ps->cap, ps->n, sizeof(entry))) {
        tg_params_fail(ps, "params_add: out of memory");
        tg_free(copy);
        tg_param_free(p);
        return NULL;
    }
    memcpy(copy, name, len + 1);
    ps->e[ps->n++] = (entry){copy, p, flags};
    return p;
}

tg_tensor *tg_params_add(tg_params *ps, const char *name, int rank, const int64_t *shape,
                         int flags) {
    if (!ps) return tg__nn_null("params_add", "parameter list"), NULL;
    tg_tensor *p = tg_param_new(ps->dt, rank, shape);
    if (!p) {
        tg_params_fail(ps, "params_add: cannot make \"%s\" (bad shape or out of memory)",
                    name ? name : "(null)");
        return NULL;
    }
    return tg_params_adopt(ps, name, p, flags);
}

void *tg_params_own(tg_params *ps, void *block) {
    if (!ps || !block || !grow((void **)&ps->own, &ps->capown, ps->nown, sizeof(void *))) {
        if (ps)
            tg_params_fail(ps, "params_own: %s", block ? "out of memory"
                                                       : "the block is NULL (out of memory "
                                                         "in tg_malloc?)");
        tg_free(block);
        return NULL;
    }
    ps->own[ps->nown++] = block;
    return block;
}

int tg_params_count(const tg_params *ps) { return ps ? ps->n : 0; }
const char *tg_params_name(const tg_params *ps, int i) {
    return ps && i >= 0 && i < ps->n ? ps->e[i].name : NULL;
}
tg_tensor *tg_params_at(const tg_params *ps, int i) {
    return ps && i >= 0 && i < ps->n ? ps->e[i].t : NULL;
}
bool tg_params_is_buffer(const tg_params *ps, int i) {
    return ps && i >= 0 && i < ps->n && (ps->e[i].flags & TG_PARAM_BUFFER);
}
tg_tensor *tg_params_find(const tg_params *ps, const char *name) {
    for (int i = 0; ps && name && i < ps->n; i++)
        if (!strcmp(ps->e[i].name, name)) return ps->e[i].t;
    return NULL;
}

int64_t tg_params_numel(const tg_params *ps) {
    int64_t n = 0;
    for (int i = 0; ps && i < ps->n; i++)
        if (!(ps->e[i].flags & TG_PARAM_BUFFER)) n += tg_tensor_numel(ps->e[i].t);
    return n;
}

tg_dtype tg_params_dtype(const tg_params *ps) { return ps ? ps->dt : TG_F32; }

void tg_params_zero_grad(tg_params *ps) {
    for (int i = 0; ps && i < ps->n; i++)
        if (!(ps->e[i].flags & TG_PARAM_BUFFER)) tg_zero_grad(ps->e[i].t);
}

void tg_params_set_training(tg_params *ps, bool training) {
    if (ps) ps->training = training;
}
bool tg_params_training(const tg_params *ps) { return ps && ps->training; }
const char *tg_params_error(const tg_params *ps) { return ps ? ps->err : "params is NULL"; }

/* ------------------------------------------------------------ activations */

tg_tensor *tg_act_forward(tg_act act, tg_tensor *x) {
    switch (act) {
    case TG_ACT_RELU: return tg_relu(x);
    case TG_ACT_TANH: return tg_tanh(x);
    case TG_ACT_SIGMOID: return tg_sigmoid(x);
    case TG_ACT_GELU: return tg_gelu(x, false);
    case TG_ACT_LEAKY_RELU: return tg_leaky_relu(x, 0.01);
    default: return x;
    }
}

static const char *act_name(tg_act act) {
    static const char *names[] = {"identity", "relu", "tanh", "sigmoid", "gelu", "leaky_relu"};
    return (unsigned)act < sizeof names / sizeof *names ? names[act] : NULL;
}

typedef struct act_layer {
    tg_layer base;
    tg_act act;
} act_layer;

static tg_tensor *act_fwd(tg_layer *self, tg_tensor *x) {
    return tg_act_forward(((act_layer *)self)->act, x);
}

void *tg__layer_alloc(tg_params *ps, size_t size, const char *kind,
                      tg_tensor *(*fwd)(tg_layer *, tg_tensor *)) {
    if (!ps) return tg__nn_null(kind, "parameter list"), NULL;
    void *block = tg_malloc(size);
    if (!block) {
        tg_params_fail(ps, "%s: out of memory", kind);
        return NULL;
    }
    tg_layer *l = tg_params_own(ps, block); /* its own sentence if it fails */
    if (!l) return NULL;
    memset(l, 0, size);
    *l = (tg_layer){fwd, ps, kind};
    return l;
}

tg_layer *tg_activation_new(tg_params *ps, tg_act act) {
    const char *name = act_name(act);
    if (ps && !name) {
        tg_params_fail(ps, "activation: unknown activation %d", (int)act);
        return NULL;
    }
    act_layer *l = tg__layer_alloc(ps, sizeof *l, name, act_fwd);
    if (!l) return NULL;
    l->act = act;
    return &l->base;
}

tg_tensor *tg_layer_forward(tg_layer *l, tg_tensor *x) {
    if (!x) return NULL;
    if (!l || !l->forward) {
        tg_tape_fail(tg_tensor_tape(x), TG_ERR_NULL, "layer_forward: the layer is NULL");
        return NULL;
    }
    return l->forward(l, x);
}

/* ----------------------------------------------------------------- linear */

static tg_tensor *linear_fwd(tg_layer *self, tg_tensor *x) {
    return tg_linear_forward((tg_linear *)self, x);
}

/* "<prefix>.<suffix>" into buf (just suffix when prefix is NULL or ""). */
static const char *join(char *buf, size_t n, const char *prefix, const char *suffix) {
    if (prefix && prefix[0]) snprintf(buf, n, "%s.%s", prefix, suffix);
    else snprintf(buf, n, "%s", suffix);
    return buf;
}

tg_linear *tg_linear_new(tg_params *ps, const char *name, int64_t in, int64_t out, bool bias,
                         tg_rng *rng) {
    if (!ps) return tg__nn_null("linear", "parameter list"), NULL;
    if (in <= 0 || out <= 0 || !rng) {
        tg_params_fail(ps, "linear: %s", !rng ? "rng is NULL" : "in and out must be positive");
        return NULL;
    }
    tg_linear *l = tg__layer_alloc(ps, sizeof *l, "linear", linear_fwd);
    if (!l) return NULL;
    char buf[256];
    l->in = in;
    l->out = out;
    l->weight = tg_params_add(ps, join(buf, sizeof buf, name, "weight"), TG_SHAPE(out, in), 0);
    if (bias) l->bias = tg_params_add(ps, join(buf, sizeof buf, name, "bias"), TG_SHAPE(out), 0);
    if (!l->weight || (bias && !l->bias)) return NULL;
    /* PyTorch: kaiming_uniform(a = sqrt(5)) = U(+-1/sqrt(in)); bias likewise */
    double bound = 1.0 / sqrt((double)in);
    tg_init_uniform(l->weight, -bound, bound, rng);
    if (bias) tg_init_uniform(l->bias, -bound, bound, rng);
    return l;
}

/* y = act(x W^T + b) as one fused op (tg_linear_act), x of rank >= 1. */
static tg_tensor *linear_apply(tg_linear *l, tg_tensor *x, tg_act act) {
    if (!x) return NULL;
    tg_tape *tape = tg_tensor_tape(x);
    if (!l) {
        tg_tape_fail(tape, TG_ERR_NULL, "linear: the layer is NULL");
        return NULL;
    }
    if (tg_tensor_rank(x) < 1 || tg_tensor_dim(x, -1) != l->in) {
        char b[160];
        tg_tape_fail(tape, TG_ERR_SHAPE,
                     "linear: input %s does not end in the layer's %lld input features "
                     "(weight [%lld,%lld])",
                     tg_tensor_shape_str(x, b, sizeof b), (long long)l->in, (long long)l->out,
                     (long long)l->in);
        return NULL;
    }
    return tg_linear_act(x, l->weight, l->bias, act); /* [..., in] @ [in, out] + [out] */
}

tg_tensor *tg_linear_forward(tg_linear *l, tg_tensor *x) {
    return linear_apply(l, x, TG_ACT_NONE);
}

/* ------------------------------------------------------------- sequential */

static tg_tensor *seq_fwd(tg_layer *self, tg_tensor *x) {
    return tg_sequential_forward((tg_sequential *)self, x);
}

tg_sequential *tg_sequential_new(tg_params *ps) {
    return tg__layer_alloc(ps, sizeof(tg_sequential), "sequential", seq_fwd);
}

tg_status tg_sequential_add(tg_sequential *s, tg_layer *l) {
    if (!s || !l) return TG_ERR_NULL;
    if (s->n == TG_SEQ_MAX) {
        tg_params_fail(s->base.ps, "sequential: more than %d layers", TG_SEQ_MAX);
        return TG_ERR_ARG;
    }
    s->layers[s->n++] = l;
    return TG_OK;
}

tg_tensor *tg_sequential_forward(tg_sequential *s, tg_tensor *x) {
    if (!x) return NULL;
    if (!s) {
        tg_tape_fail(tg_tensor_tape(x), TG_ERR_NULL, "sequential: the container is NULL");
        return NULL;
    }
    for (int i = 0; x && i < s->n; i++) {
        tg_layer *l = s->layers[i], *next = i + 1 < s->n ? s->layers[i + 1] : NULL;
        if (l->forward == linear_fwd && next && next->forward == act_fwd) {
            /* Linear then activation: one fused op, one pass (the MLP) */
            x = linear_apply((tg_linear *)l, x, ((act_layer *)next)->act);
            i++;
        } else {
            x = l->forward(l, x);
        }
    }
    return x;
}

tg_sequential *tg_mlp_new(tg_params *ps, const char *name, const int64_t *widths, int n,
                          tg_act act, tg_act out_act, tg_rng *rng) {
    if (!ps) return tg__nn_null("mlp", "parameter list"), NULL;
    if (!widths || n < 2 || !act_name(act) || !act_name(out_act)) {
        tg_params_fail(ps, "mlp: %s", !widths ? "widths is NULL"
                                   : n < 2 ? "needs at least two widths (in and out)"
                                           : "unknown activation");
        return NULL;
    }
    tg_sequential *s = tg_sequential_new(ps);
    for (int i = 0; s && i + 1 < n; i++) {
        /* named by its position in the container, activations counted, as
         * PyTorch's nn.Sequential names its children */
        char buf[256], idx[16];
        snprintf(idx, sizeof idx, "%d", s->n);
        tg_linear *l = tg_linear_new(ps, join(buf, sizeof buf, name, idx), widths[i],
                                     widths[i + 1], true, rng);
        tg_act a = i + 2 < n ? act : out_act;
        if (!l || tg_sequential_add(s, &l->base) != TG_OK) return NULL;
        if (a != TG_ACT_NONE) {
            tg_layer *al = tg_activation_new(ps, a);
            if (!al || tg_sequential_add(s, al) != TG_OK) return NULL;
        }
    }
    return s;
}
