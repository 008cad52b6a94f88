/* error.c - the sticky error model: the tape keeps the first error. */
#include "tg_engine.h"

#include <stdio.h>
#include <stdlib.h>

const char *tg_status_name(tg_status s) {
    switch (s) {
    case TG_OK: return "ok";
    case TG_ERR_NULL: return "NULL argument";
    case TG_ERR_SHAPE: return "shape mismatch";
    case TG_ERR_DTYPE: return "dtype mismatch";
    case TG_ERR_TAPE: return "tensor from another tape";
    case TG_ERR_STALE: return "stale tensor";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_ARG: return "bad argument";
    case TG_ERR_STATE: return "invalid state";
    case TG_ERR_IO: return "I/O error";
    case TG_ERR_FORMAT: return "bad file format";
    case TG_ERR_NUMERIC: return "NaN or Inf";
    case TG_ERR_OVERFLOW: return "size overflow";
    }
    return "unknown status";
}

void tg__failv(tg_tape *tape, tg_status s, const char *op, const char *fmt, va_list ap) {
    if (!tape || tape->status != TG_OK) return;
    tape->status = s;
    int k = snprintf(tape->err, sizeof tape->err, "%s: ", op ? op : "tapegrad");
    if (k < 0) k = 0;
    if ((size_t)k < sizeof tape->err) vsnprintf(tape->err + k, sizeof tape->err - (size_t)k, fmt, ap);
    if (tape->abort_on_error) {
        fprintf(stderr, "tapegrad: %s\n", tape->err);
        abort(); /* the debugging switch asked for exactly this */
    }
}

void *tg__fail(tg_tape *tape, tg_status s, const char *op, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tg__failv(tape, s, op, fmt, ap);
    va_end(ap);
    return NULL;
}

void tg_tape_fail(tg_tape *tape, tg_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tg__failv(tape, s, NULL, fmt, ap);
    va_end(ap);
}

bool tg_tape_ok(const tg_tape *tape) { return tape && tape->status == TG_OK; }
tg_status tg_tape_status(const tg_tape *tape) { return tape ? tape->status : TG_ERR_NULL; }
const char *tg_tape_error(const tg_tape *tape) {
    if (!tape) return "tape is NULL";
    return tape->status == TG_OK ? "" : tape->err;
}
void tg_tape_set_abort_on_error(tg_tape *tape, bool on) {
    if (tape) tape->abort_on_error = on;
}

char *tg__shape_str(char *buf, size_t n, int rank, const int64_t *shape) {
    size_t k = 0;
    if (n == 0) return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}
