/* fuzz_ops.c - random bytes decoded into random op sequences on random
 * shapes. The tape must never crash, leak or read out of bounds, and every
 * error it reports must be clean: a status, a sentence naming the op, and
 * NULL from the failing op. Also backward on whatever was built.
 *
 * libFuzzer:  CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz
 *             ./build-fuzz/tests/fuzz/fuzz_ops -max_total_time=60 tests/fuzz/corpus/ops
 * The normal suite replays the committed corpus (tests/fuzz/replay.c). */
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

#define POOL 12

static void fail_if(int cond, const char *what, const tg_tape *t) {
    if (cond) {
        fprintf(stderr, "fuzz_ops: %s (tape: %s)\n", what, tg_tape_error(t));
        abort(); /* a harness, not the library: libFuzzer wants a crash */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    tg_tape *t = tg_tape_new();
    if (!t) return 0;
    tg_rng rng;
    tg_rng_seed(&rng, take(&r));
    tg_tensor *pool[POOL] = {0};
    tg_tensor *param = tg_param_new(TG_F64, TG_SHAPE(3));
    int npool = 0;
    while (r.n > 0) {
        unsigned op = take(&r), i = take(&r) % POOL, j = take(&r) % POOL, k = take(&r);
        tg_tensor *a = pool[i], *b = pool[j], *out = NULL;
        /* keep tensors small: outer products of outer products explode */
        if ((a && tg_tensor_numel(a) > 4096) || (b && tg_tensor_numel(b) > 4096)) continue;
        bool was_ok = tg_tape_ok(t);
        switch (op % 40) {
        case 0: case 1: { /* a new leaf of a small random shape */
            int rank = (int)(k % 4);
            int64_t shape[4];
            for (int d = 0; d < rank; d++) shape[d] = take(&r) % 4; /* 0..3: size-0 too */
            tg_dtype dt = (k & 64) ? TG_F32 : TG_F64;
            out = tg_rand_uniform(t, dt, rank, shape, &rng, -3, 3);
            if (out && (k & 128)) tg_requires_grad(out);
            break;
        }
        case 2: out = tg_add(a, b); break;
        case 3: out = tg_sub(a, b); break;
        case 4: out = tg_mul(a, b); break;
        case 5: out = tg_div(a, b); break;
        case 6: out = tg_pow(a, b); break;
        case 7: out = tg_add_scalar(a, (double)k - 128); break;
        case 8: out = tg_mul_scalar(a, (double)k / 16); break;
        case 9: out = tg_pow_scalar(a, (double)(k % 5)); break;
        case 10: out = tg_exp(a); break;
        case 11: out = tg_log(a); break;
        case 12: out = tg_sqrt(a); break;
        case 13: out = tg_tanh(a); break;
        case 14: out = tg_sigmoid(a); break;
        case 15: out = tg_relu(a); break;
        case 16: out = tg_sum(a); break;
        case 17: out = tg_mean_axis(a, (int)(k % 7) - 3, k & 8); break;
        case 18: out = tg_sum_axes(a, 2, (int[]){(int)(k % 5) - 2, (int)(k / 5 % 5) - 2}, k & 1); break;
        case 19: out = tg_matmul(a, b); break;
        case 20: out = tg_matmul_t(a, b, k & 1, k & 2); break;
        case 21: out = tg_reshape(a, TG_SHAPE(-1, (int64_t)(k % 4))); break;
        case 22: out = tg_transpose(a, (int)(k % 5) - 2, (int)(k / 5 % 5) - 2); break;
        case 23: out = tg_expand(a, TG_SHAPE((int64_t)(k % 3), 2, 3)); break;
        case 24: out = tg_sum_to(a, TG_SHAPE(1, (int64_t)(k % 4))); break;
        case 25: out = tg_cast(a, (k & 1) ? TG_F32 : TG_F64); break;
        case 26: out = tg_mul(a, param); break;
        case 27: out = tg_neg(tg_abs(a)); break;
        case 28: out = tg_sin(tg_cos(a)); break;
        case 29: out = tg_detach(a); break;
        case 30: { /* backward of something */
            tg_tensor *s = a ? tg_sum(a) : NULL;
            tg_status st = s && tg_tensor_requires_grad(s) ? tg_backward(s) : TG_OK;
            fail_if(st != TG_OK && tg_tape_ok(t), "backward failed but the tape is ok", t);
            break;
        }
        case 31: { /* functional and create-graph gradients */
            tg_tensor *s = a ? tg_sum(a) : NULL;
            tg_tensor *g[1];
            if (s && b && tg_tensor_requires_grad(s) && tg_tensor_requires_grad(b))
                tg_grad(s, NULL, 1, &b, g, (k & 1) ? TG_CREATE_GRAPH : 0);
            break;
        }
        case 32: tg_tape_reset(t); npool = 0; memset(pool, 0, sizeof pool); break;
        case 33: out = tg_add(a, NULL); break; /* a NULL operand */
        case 34: (void)tg_item(a); (void)tg_tensor_grad(a); break;
        case 35: tg_tape_set_grad_enabled(t, k & 1); break;
        case 36: /* the fused layer: any act, bias from the pool or none */
            out = tg_linear_act(a, b, (k & 64) ? NULL : pool[k % POOL], (tg_act)(k % 7));
            break;
        case 37: { /* fused cross entropy with labels that may be out of range */
            int64_t rows = a && tg_tensor_rank(a) == 2 ? tg_tensor_dim(a, 0) : 1, lab[64];
            if (rows > 64) break;
            for (int64_t q = 0; q < rows; q++) lab[q] = (int64_t)((k + 7 * q) % 9) - 1;
            tg_tensor *y = tg_tensor_new(t, TG_I64, 1, &rows, lab);
            out = tg_softmax_cross_entropy(a, y, (k & 1) ? -1 : -100, (double)(k % 3) / 4);
            break;
        }
        case 38: /* slices (views when contiguous) and x * x */
            out = (k & 1) ? tg_mul(a, a)
                          : tg_slice(a, (int)(k % 3) - 1, (int64_t)(k / 3 % 4) - 1,
                                     (int64_t)(k / 12 % 5), 1 + (int64_t)(k / 60 % 2));
            break;
        case 39: { /* 0-d scalar code on a reduction (inline gradients) */
            tg_tensor *s0 = tg_sum(a);
            out = tg_add(tg_mul(s0, s0), tg_sin(tg_rdiv_scalar(s0, (double)k)));
            break;
        }
        default: out = tg_matmul(tg_reshape(a, TG_SHAPE(-1, 1)), tg_reshape(b, TG_SHAPE(1, -1))); break;
        }
        /* every failure is a clean, sticky error */
        if (!out && was_ok && !tg_tape_ok(t))
            fail_if(tg_tape_error(t)[0] == 0 || strchr(tg_tape_error(t), ':') == NULL,
                    "error without a sentence", t);
        fail_if(!was_ok && tg_tape_ok(t) && op % 40 != 32, "an error was forgotten", t);
        if (out) {
            fail_if(tg_tensor_numel(out) < 0, "a result with no shape", t);
            pool[npool++ % POOL] = out;
        }
        if (!tg_tape_ok(t) && (k & 3) == 0) { /* sometimes recover */
            tg_tape_reset(t);
            npool = 0;
            memset(pool, 0, sizeof pool);
        }
    }
    tg_param_free(param);
    tg_tape_free(t);
    return 0;
}
