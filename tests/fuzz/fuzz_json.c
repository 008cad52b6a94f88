/* fuzz_json.c - random bytes through the JSON reader and writer of
 * nn/json.c directly (fuzz_checkpoint reaches them only through whole
 * safetensors files). The reader must never crash, leak or read out of
 * bounds; what it accepts must round-trip through the writer.
 *
 * The first byte picks the mode, the rest is the text:
 *   0  a string: on success it is valid UTF-8, and quoting it with the
 *      writer and reading that back gives the same string, all of it read;
 *   1  an integer up to a bound taken from the byte: on success it is
 *      within the bound, and its decimal form reads back to the same value;
 *   2  a walk: peek at each byte in turn and read a string or an integer
 *      where one starts, else take the byte, until the first failure,
 *      which must leave a status, a message and a position in the text.
 * Links the static library: the tg__ functions are hidden in the shared
 * one.
 *
 * libFuzzer:  ./build-fuzz/tests/fuzz/fuzz_json -max_total_time=60 tests/fuzz/corpus/json
 * The normal suite replays the committed corpus (tests/fuzz/replay.c). */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail_if(int cond, const char *what, const char *detail) {
    if (cond) {
        fprintf(stderr, "fuzz_json: %s (%s)\n", what, detail);
        abort(); /* a harness, not the library: libFuzzer wants a crash */
    }
}

static void check_failure(const tg__jr *p) {
    fail_if(p->st != TG_ERR_FORMAT && p->st != TG_ERR_NOMEM, "a failure without a status", "");
    fail_if(p->at > p->n, "a failure past the end", p->msg);
    fail_if(p->st == TG_ERR_FORMAT && !p->msg[0], "a format error without a message", "");
}

static void fuzz_string(const unsigned char *s, size_t n) {
    tg__jr p = {s, n, 0, TG_OK, 0, ""};
    char *str;
    if (!tg__jr_string(&p, &str)) {
        fail_if(str != NULL, "a string on failure", "");
        check_failure(&p);
        return;
    }
    fail_if(p.i > n, "read past the end", str);
    fail_if(!tg__json_utf8_ok(str), "accepted a string that is not UTF-8", str);
    tg__jw w = {0};
    tg__jw_quote(&w, str);
    if (!w.oom) {
        tg__jr q = {(const unsigned char *)w.p, w.n, 0, TG_OK, 0, ""};
        char *back;
        fail_if(!tg__jr_string(&q, &back), "the writer's string does not read back", q.msg);
        fail_if(q.i != w.n, "the writer's string reads back only in part", w.p);
        fail_if(strcmp(back, str) != 0, "the string changed on the round trip", w.p);
        tg_free(back);
    }
    tg_free(w.p);
    tg_free(str);
}

static void fuzz_uint(const unsigned char *s, size_t n, unsigned char b) {
    uint64_t max = b == 0 ? UINT64_MAX : b == 1 ? (uint64_t)INT64_MAX : (uint64_t)b * 1000;
    tg__jr p = {s, n, 0, TG_OK, 0, ""};
    uint64_t v;
    if (!tg__jr_uint(&p, max, &v)) {
        check_failure(&p);
        return;
    }
    fail_if(v > max, "accepted an integer over the bound", "");
    tg__jw w = {0};
    tg__jw_fmt(&w, "%llu", (unsigned long long)v);
    if (!w.oom) {
        tg__jr q = {(const unsigned char *)w.p, w.n, 0, TG_OK, 0, ""};
        uint64_t back;
        fail_if(!tg__jr_uint(&q, max, &back) || back != v, "the integer changed on the round trip",
                w.p);
    }
    tg_free(w.p);
}

static void fuzz_walk(const unsigned char *s, size_t n) {
    tg__jr p = {s, n, 0, TG_OK, 0, ""};
    for (int steps = 0; steps < 10000; steps++) {
        size_t before = p.i;
        int c = tg__jr_peek(&p);
        if (c < 0) {
            fail_if(p.i != n, "the end before the end", "");
            return;
        }
        bool ok;
        if (c == '"') {
            char *str;
            ok = tg__jr_string(&p, &str);
            tg_free(str);
        } else if (c >= '0' && c <= '9') {
            uint64_t v;
            ok = tg__jr_uint(&p, UINT64_MAX, &v);
        } else if (c == '{' || c == '[') {
            ok = tg__jr_expect(&p, (char)c);
        } else {
            ok = tg__jr_accept(&p, (char)c);
        }
        if (!ok) {
            check_failure(&p);
            return;
        }
        fail_if(p.i <= before || p.i > n, "a step that does not advance within the text", "");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0: fuzz_string(data + 1, size - 1); break;
    case 1: fuzz_uint(data + 1, size - 1, (unsigned char)(data[0] / 3)); break;
    default: fuzz_walk(data + 1, size - 1); break;
    }
    return 0;
}
