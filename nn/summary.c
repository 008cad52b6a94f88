/* summary.c - tg_params_summary: a model's tensors as a table with
 * totals, as torchinfo prints a PyTorch model. Public API only.
 */
#include "tg_module.h"

#include <stdio.h>
#include <string.h>

/* n with commas every three digits: 1234567 -> "1,234,567". */
static const char *grouped(int64_t n, char *b, size_t cap) {
    char d[32];
    int k = snprintf(d, sizeof d, "%lld", (long long)(n < 0 ? -n : n));
    size_t j = 0;
    if (n < 0 && j + 1 < cap) b[j++] = '-';
    for (int i = 0; i < k && j + 2 < cap; i++) {
        if (i && (k - i) % 3 == 0) b[j++] = ',';
        b[j++] = d[i];
    }
    b[j] = 0;
    return b;
}

static int64_t esize(tg_dtype dt) { return dt == TG_F32 ? 4 : 8; }

tg_status tg_params_summary(FILE *out, const tg_params *ps) {
    if (!out) return TG_ERR_NULL;
    if (!ps) return fprintf(out, "params: NULL\n") < 0 ? TG_ERR_IO : TG_OK;
    int n = tg_params_count(ps);
    int wn = 4, ws = 5, wc = 5;
    char sh[160], c[40];
    for (int i = 0; i < n; i++) { /* column widths */
        const tg_tensor *t = tg_params_at(ps, i);
        int l = (int)strlen(tg_params_name(ps, i));
        wn = l > wn ? l : wn;
        l = (int)strlen(tg_tensor_shape_str(t, sh, sizeof sh));
        ws = l > ws ? l : ws;
        l = (int)strlen(grouped(tg_tensor_numel(t), c, sizeof c));
        wc = l > wc ? l : wc;
    }
    int err = 0;
    err |= fprintf(out, "%-*s  %-*s  %*s  %-9s  %s\n", wn, "name", ws, "shape", wc, "count", "kind",
                   "dtype") < 0;
    int64_t cnt[2] = {0, 0}, bytes[2] = {0, 0};
    int tens[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        const tg_tensor *t = tg_params_at(ps, i);
        int b = tg_params_is_buffer(ps, i) ? 1 : 0;
        int64_t m = tg_tensor_numel(t);
        cnt[b] += m;
        bytes[b] += m * esize(tg_tensor_dtype(t));
        tens[b]++;
        err |= fprintf(out, "%-*s  %-*s  %*s  %-9s  %s\n", wn, tg_params_name(ps, i), ws,
                       tg_tensor_shape_str(t, sh, sizeof sh), wc, grouped(m, c, sizeof c),
                       b ? "buffer" : "trainable", tg_dtype_name(tg_tensor_dtype(t))) < 0;
    }
    char c2[40];
    const char *kind[2] = {"trainable:", "buffers:  "};
    for (int b = 0; b < 2; b++)
        err |= fprintf(out, "%s %s in %d tensor%s (%s bytes)\n", kind[b], grouped(cnt[b], c, sizeof c),
                       tens[b], tens[b] == 1 ? "" : "s", grouped(bytes[b], c2, sizeof c2)) < 0;
    err |= fprintf(out, "total:     %s values, %s bytes\n", grouped(cnt[0] + cnt[1], c, sizeof c),
                   grouped(bytes[0] + bytes[1], c2, sizeof c2)) < 0;
    return err ? TG_ERR_IO : TG_OK;
}
