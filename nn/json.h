/* json.h - a strict JSON reader and a JSON writer, for the safetensors
 * header (internal to nn/, not installed).
 *
 * The reader has no tree and no "any value": the caller reads exactly the
 * schema it knows with the primitives below (expect '{', a string, ':',
 * ...), so nesting is bounded by the caller's code. It rejects what JSON
 * forbids: bad escapes, lone surrogates, invalid UTF-8, control characters
 * in strings, and, for integers, signs, fractions, exponents, leading
 * zeros and overflow; strings may not hold \u0000 (they become C strings).
 * White space is the four JSON allows. Messages speak of "the header".
 *
 * Example: {"a": 12}
 *
 *     tg__jr p = {text, len, 0};
 *     char *key;
 *     uint64_t v;
 *     if (!tg__jr_expect(&p, '{') || !tg__jr_key(&p, &key) ||
 *         !tg__jr_uint(&p, UINT64_MAX, &v) || !tg__jr_expect(&p, '}'))
 *         ... p.st, p.at, p.msg say what went wrong ...
 *     if (tg__jr_peek(&p) >= 0) ... bytes after the end ...
 *
 * Every allocation goes through tg_malloc / tg_free.
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include "io_util.h"

/* ---------------------------------------------------------------- reader */

/* The text s[0..n) and the position i. After a primitive returns false,
 * st is TG_ERR_FORMAT (msg says what was wrong, at says at which byte) or
 * TG_ERR_NOMEM. */
typedef struct tg__jr {
    const unsigned char *s;
    size_t n, i;
    tg_status st;
    size_t at;
    char msg[200];
} tg__jr;

/* Records a format error at the current position; returns false. */
bool tg__jr_fail(tg__jr *p, const char *fmt, ...) TG__FMT(2, 3);

/* Records an allocation failure; returns false. */
bool tg__jr_nomem(tg__jr *p);

/* Skips white space; the next byte, or -1 at the end. */
int tg__jr_peek(tg__jr *p);

/* Skips white space and takes c if it comes next (true), else nothing. */
bool tg__jr_accept(tg__jr *p, char c);

/* Skips white space and takes c, or fails ("expected ':', found ..."). */
bool tg__jr_expect(tg__jr *p, char c);

/* A string into a new NUL-terminated buffer (*out, tg_malloc'd; NULL on
 * failure). */
bool tg__jr_string(tg__jr *p, char **out);

/* An object's key and the ':' after it (*key as tg__jr_string's). */
bool tg__jr_key(tg__jr *p, char **key);

/* A non-negative integer that fits in max. */
bool tg__jr_uint(tg__jr *p, uint64_t max, uint64_t *v);

/* ---------------------------------------------------------------- writer */

/* A growing NUL-terminated text p[0..n) (tg_malloc'd; the caller frees p).
 * On an allocation failure oom is set and later writes do nothing, so the
 * caller checks once at the end. Zero-initialize to start. */
typedef struct tg__jw {
    char *p;
    size_t n, cap;
    bool oom;
} tg__jw;

/* Appends n bytes / a C string / a short printf text (up to 63 bytes). */
void tg__jw_put(tg__jw *b, const char *s, size_t n);
void tg__jw_str(tg__jw *b, const char *s);
void tg__jw_fmt(tg__jw *b, const char *fmt, ...) TG__FMT(2, 3);

/* Appends s as a JSON string literal; s must be valid UTF-8
 * (tg__json_utf8_ok). */
void tg__jw_quote(tg__jw *b, const char *s);

/* Whether s is valid UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF): what the reader accepts in a string. */
bool tg__json_utf8_ok(const char *s);

#endif
