/* error.c - the error model: every failure writes the calling thread's
 * last error (tg_last_error); the tape also keeps its first error. */
#include "tg_engine.h"

#include <stdio.h>
#include <stdlib.h>

/* The calling thread's most recent failure. Only failure paths write it. */
static _Thread_local struct {
    tg_status status;
    char msg[512];
} last;

const char *tg_last_error(void) { return last.msg; }
tg_status tg_last_status(void) { return last.status; }
void tg_clear_error(void) {
    last.status = TG_OK;
    last.msg[0] = 0;
}

/* Writes "<op>: <sentence>" (or just the sentence when op is NULL). */
static void set_last(tg_status s, const char *op, const char *fmt, va_list ap) {
    last.status = s == TG_OK ? TG_ERR_STATE : s; /* a failure is never "ok" */
    int k = op ? snprintf(last.msg, sizeof last.msg, "%s: ", op) : 0;
    if (k < 0) k = 0;
    if ((size_t)k < sizeof last.msg) vsnprintf(last.msg + k, sizeof last.msg - (size_t)k, fmt, ap);
    last.msg[sizeof last.msg - 1] = 0;
}

void tg_set_last_errorv(tg_status s, const char *fmt, va_list ap) {
    set_last(s, NULL, fmt ? fmt : "(no sentence)", ap);
}

void tg_set_last_error(tg_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tg_set_last_errorv(s, fmt, ap);
    va_end(ap);
}

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

bool tg__null_keeps_last(void) { return last.status != TG_OK; }

void tg__failv(tg_tape *tape, tg_status s, const char *op, const char *fmt, va_list ap) {
    /* An op given NULL (most often the failure value of an earlier op)
     * keeps the earlier sentence: the root cause stays readable at the end
     * of a chain of calls. */
    if (s != TG_ERR_NULL || !tg__null_keeps_last()) {
        va_list aq;
        va_copy(aq, ap);
        set_last(s, op ? op : "tapegrad", fmt, aq); /* the same sentence as the tape keeps */
        va_end(aq);
    }
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
