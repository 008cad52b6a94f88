/* safetensors.c - the safetensors header (see safetensors.h): the dtype
 * table, the strict reader of its one JSON schema, the checks of what it
 * says, and the writer.
 *
 * Reading: the JSON is read with json.h's strict primitives for exactly
 * one schema (so nesting is at most three deep by construction: top
 * object, tensor or metadata object, shape/offset array); duplicate keys,
 * unknown fields and anything after the closing brace but the spaces the
 * format allows as padding are rejected. Then every shape is checked for
 * overflow and the offsets must tile the data section exactly.
 */
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- dtypes */

const tg__st_dtype tg__st_dtypes[] = {
    {"F32", 4, TG_F32},  {"F64", 8, TG_F64},     {"I64", 8, TG_I64},     {"BOOL", 1, -1},
    {"U8", 1, -1},       {"I8", 1, -1},          {"F8_E5M2", 1, -1},     {"F8_E4M3", 1, -1},
    {"I16", 2, -1},      {"U16", 2, -1},         {"F16", 2, -1},         {"BF16", 2, -1},
    {"I32", 4, -1},      {"U32", 4, -1},         {"U64", 8, -1},
};
#define NDTYPES 15
_Static_assert(sizeof tg__st_dtypes / sizeof tg__st_dtypes[0] == NDTYPES, "NDTYPES");

int tg__st_dtype_of(tg_dtype dt) {
    for (int i = 0; i < NDTYPES; i++)
        if (tg__st_dtypes[i].tg == (int)dt) return i;
    return -1;
}

/* --------------------------------------------------------------- reading */

/* One tensor's {"dtype": .., "shape": [..], "data_offsets": [b, e]}. */
static bool jtensor(tg__jr *p, ck_entry *e) {
    bool have_dt = false, have_shape = false, have_off = false;
    if (!tg__jr_expect(p, '{')) return false;
    if (tg__jr_peek(p) == '}') return tg__jr_fail(p, "tensor \"%s\" has no fields", e->name);
    do {
        char *key;
        if (!tg__jr_key(p, &key)) return false;
        if (!strcmp(key, "dtype")) {
            tg_free(key);
            if (have_dt) return tg__jr_fail(p, "duplicate \"dtype\" in tensor \"%s\"", e->name);
            char *dt;
            if (!tg__jr_string(p, &dt)) return false;
            e->dt = -1;
            for (int k = 0; k < NDTYPES; k++)
                if (!strcmp(dt, tg__st_dtypes[k].name)) e->dt = k;
            if (e->dt < 0) {
                tg__jr_fail(p, "unknown dtype \"%.40s\" for tensor \"%s\"", dt, e->name);
                tg_free(dt);
                return false;
            }
            tg_free(dt);
            have_dt = true;
        } else if (!strcmp(key, "shape")) {
            tg_free(key);
            if (have_shape) return tg__jr_fail(p, "duplicate \"shape\" in tensor \"%s\"", e->name);
            if (!tg__jr_expect(p, '[')) return false;
            e->rank = 0;
            if (!tg__jr_accept(p, ']')) {
                do {
                    uint64_t d;
                    if (e->rank == TG_MAX_RANK)
                        return tg__jr_fail(p, "tensor \"%s\" has more than %d dimensions", e->name,
                                           TG_MAX_RANK);
                    if (!tg__jr_uint(p, (uint64_t)INT64_MAX, &d)) return false;
                    e->shape[e->rank++] = (int64_t)d;
                } while (tg__jr_accept(p, ','));
                if (!tg__jr_expect(p, ']')) return false;
            }
            have_shape = true;
        } else if (!strcmp(key, "data_offsets")) {
            tg_free(key);
            if (have_off)
                return tg__jr_fail(p, "duplicate \"data_offsets\" in tensor \"%s\"", e->name);
            if (!tg__jr_expect(p, '[') || !tg__jr_uint(p, UINT64_MAX, &e->begin) ||
                !tg__jr_expect(p, ',') || !tg__jr_uint(p, UINT64_MAX, &e->end))
                return false;
            if (tg__jr_peek(p) == ',')
                return tg__jr_fail(p, "data_offsets of tensor \"%s\" has more than 2 entries",
                                   e->name);
            if (!tg__jr_expect(p, ']')) return false;
            have_off = true;
        } else {
            tg__jr_fail(p, "unknown field \"%.40s\" in tensor \"%s\"", key, e->name);
            tg_free(key);
            return false;
        }
    } while (tg__jr_accept(p, ','));
    if (!tg__jr_expect(p, '}')) return false;
    if (!have_dt || !have_shape || !have_off)
        return tg__jr_fail(p, "tensor \"%s\" lacks \"%s\"", e->name,
                           !have_dt ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return true;
}

/* "__metadata__": {"key": "value", ...} */
static bool jmeta(tg__jr *p, tg_checkpoint *ck) {
    if (!tg__jr_expect(p, '{')) return false;
    if (tg__jr_accept(p, '}')) return true;
    do {
        char *k, *v;
        if (!tg__jr_key(p, &k)) return false;
        int c = tg__jr_peek(p);
        if (c >= 0 && c != '"') {
            tg__jr_fail(p, "metadata value of \"%.40s\" is not a string", k);
            return tg_free(k), false;
        }
        if (!tg__jr_string(p, &v)) return tg_free(k), false;
        void *arr = ck->meta;
        if (!tg__io_grow(&arr, &ck->metacap, 2 * (size_t)ck->nmeta, 2 * (size_t)ck->nmeta + 2,
                         sizeof(char *))) {
            tg_free(k), tg_free(v);
            return tg__jr_nomem(p);
        }
        ck->meta = arr;
        ck->meta[2 * ck->nmeta] = k;
        ck->meta[2 * ck->nmeta + 1] = v;
        ck->nmeta++;
    } while (tg__jr_accept(p, ','));
    return tg__jr_expect(p, '}');
}

static bool jheader(tg__jr *p, tg_checkpoint *ck) {
    bool have_meta = false;
    if (!tg__jr_accept(p, '{')) return tg__jr_fail(p, "the header does not start with '{'");
    if (!tg__jr_accept(p, '}')) {
        do {
            char *key;
            if (!tg__jr_key(p, &key)) return false;
            if (!strcmp(key, "__metadata__")) {
                tg_free(key);
                if (have_meta) return tg__jr_fail(p, "duplicate \"__metadata__\"");
                have_meta = true;
                if (!jmeta(p, ck)) return false;
            } else {
                void *arr = ck->e;
                if (!tg__io_grow(&arr, &ck->cap, (size_t)ck->n, (size_t)ck->n + 1,
                                 sizeof(ck_entry))) {
                    tg_free(key);
                    return tg__jr_nomem(p);
                }
                ck->e = arr;
                ck_entry *e = &ck->e[ck->n++];
                memset(e, 0, sizeof *e);
                e->name = key;
                if (!jtensor(p, e)) return false;
            }
        } while (tg__jr_accept(p, ','));
        if (!tg__jr_expect(p, '}')) return false;
    }
    if (tg__jr_peek(p) >= 0) return tg__jr_fail(p, "unexpected bytes after the closing '}'");
    return true;
}

/* ------------------------------------------------------------ validation */

/* qsort has no user pointer, so the comparisons sort small keys that carry
 * what they need (re-entrant, no file-static context). */
typedef struct ck_key {
    const char *name;
    uint64_t begin, end;
    int idx;
} ck_key;

static int cmp_key_name(const void *a, const void *b) {
    return strcmp(((const ck_key *)a)->name, ((const ck_key *)b)->name);
}
static int cmp_key_off(const void *a, const void *b) {
    const ck_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static tg_status validate(tg_checkpoint *ck, char *err, size_t errlen) {
    const char *path = ck->path;
    for (int i = 0; i < ck->n; i++) {
        ck_entry *e = &ck->e[i];
        uint64_t numel = 1;
        for (int d = 0; d < e->rank; d++) {
            uint64_t s = (uint64_t)e->shape[d];
            if (s && numel > (uint64_t)INT64_MAX / s) {
                tg__io_seterr(err, errlen, "checkpoint '%s': tensor \"%s\": shape too large", path,
                              e->name);
                return TG_ERR_FORMAT;
            }
            numel *= s;
        }
        uint64_t size = (uint64_t)tg__st_dtypes[e->dt].size;
        if (numel > UINT64_MAX / size) {
            tg__io_seterr(err, errlen, "checkpoint '%s': tensor \"%s\": shape too large", path,
                          e->name);
            return TG_ERR_FORMAT;
        }
        uint64_t bytes = numel * size;
        if (e->begin > e->end) {
            tg__io_seterr(
                err, errlen,
                "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
            return TG_ERR_FORMAT;
        }
        if (e->end - e->begin != bytes) {
            tg__io_seterr(
                err, errlen,
                "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] span %llu bytes, but "
                "%s with %llu elements needs %llu",
                path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                (unsigned long long)(e->end - e->begin), tg__st_dtypes[e->dt].name,
                (unsigned long long)numel, (unsigned long long)bytes);
            return TG_ERR_FORMAT;
        }
        if (e->end > ck->data_len) {
            tg__io_seterr(
                err, errlen,
                "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] run past the end of "
                "the data (%llu bytes; the file is truncated or corrupt)",
                path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                (unsigned long long)ck->data_len);
            return TG_ERR_FORMAT;
        }
    }
    ck_key *keys = tg_malloc((size_t)(ck->n ? ck->n : 1) * sizeof *keys);
    ck->byname = tg_malloc((size_t)(ck->n ? ck->n : 1) * sizeof(int));
    if (!keys || !ck->byname) {
        tg_free(keys);
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    for (int i = 0; i < ck->n; i++)
        keys[i] = (ck_key){ck->e[i].name, ck->e[i].begin, ck->e[i].end, i};
    /* duplicate names */
    qsort(keys, (size_t)ck->n, sizeof *keys, cmp_key_name);
    for (int i = 0; i < ck->n; i++) {
        ck->byname[i] = keys[i].idx;
        if (i && !strcmp(keys[i].name, keys[i - 1].name)) {
            tg__io_seterr(err, errlen, "checkpoint '%s': tensor \"%s\" appears twice in the header",
                          path, keys[i].name);
            tg_free(keys);
            return TG_ERR_FORMAT;
        }
    }
    /* the tensors tile the data section: no gap, no overlap, nothing left */
    qsort(keys, (size_t)ck->n, sizeof *keys, cmp_key_off);
    uint64_t at = 0;
    for (int i = 0; i < ck->n; i++) {
        if (keys[i].begin != at) {
            if (keys[i].begin < at)
                tg__io_seterr(
                    err, errlen,
                    "checkpoint '%s': tensor \"%s\" at bytes [%llu, %llu] overlaps the tensor "
                    "before it (which ends at %llu)",
                    path, keys[i].name, (unsigned long long)keys[i].begin,
                    (unsigned long long)keys[i].end, (unsigned long long)at);
            else
                tg__io_seterr(
                    err, errlen,
                    "checkpoint '%s': gap in the data before tensor \"%s\" (bytes %llu to %llu "
                    "belong to no tensor)",
                    path, keys[i].name, (unsigned long long)at, (unsigned long long)keys[i].begin);
            tg_free(keys);
            return TG_ERR_FORMAT;
        }
        at = keys[i].end;
    }
    tg_free(keys);
    if (at != ck->data_len) {
        tg__io_seterr(err, errlen,
                      "checkpoint '%s': the data section has %llu bytes but the tensors cover %llu "
                      "(trailing garbage or a wrong header)",
                      path, (unsigned long long)ck->data_len, (unsigned long long)at);
        return TG_ERR_FORMAT;
    }
    /* duplicate metadata keys */
    const char *dup;
    if (tg__st_first_dup(ck->nmeta, (const char *const *)ck->meta, 2, &dup) != TG_OK) {
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    if (dup) {
        tg__io_seterr(err, errlen, "checkpoint '%s': metadata key \"%s\" appears twice", path, dup);
        return TG_ERR_FORMAT;
    }
    return TG_OK;
}

tg_status tg__st_parse(tg_checkpoint *ck, const unsigned char *hdr, size_t hlen, char *err,
                       size_t errlen) {
    tg__jr p = {hdr, hlen, 0, TG_OK, 0, ""};
    if (!jheader(&p, ck)) {
        if (p.st == TG_ERR_NOMEM)
            tg__io_seterr(err, errlen, "checkpoint '%s': out of memory reading the header",
                          ck->path);
        else
            tg__io_seterr(err, errlen, "checkpoint '%s': bad header JSON at byte %zu of %zu: %s",
                          ck->path, p.at, p.n, p.msg);
        return p.st;
    }
    return validate(ck, err, errlen);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tg_status tg__st_first_dup(int n, const char *const *s, int stride, const char **dup) {
    *dup = NULL;
    if (n < 2) return TG_OK;
    const char **k = tg_malloc((size_t)n * sizeof *k);
    if (!k) return TG_ERR_NOMEM;
    for (int i = 0; i < n; i++) k[i] = s[(size_t)i * (size_t)stride];
    qsort(k, (size_t)n, sizeof *k, cmp_str);
    for (int i = 1; i < n && !*dup; i++)
        if (!strcmp(k[i], k[i - 1])) *dup = k[i];
    tg_free(k);
    return TG_OK;
}

/* --------------------------------------------------------------- writing */

void tg__st_header(tg__jw *h, int n, const char *const *names, tg_tensor *const *tensors,
                   int nmeta, const char *const *meta) {
    tg__jw_str(h, "{");
    if (nmeta > 0) {
        tg__jw_str(h, "\"__metadata__\":{");
        for (int k = 0; k < nmeta; k++) {
            if (k) tg__jw_str(h, ",");
            tg__jw_quote(h, meta[2 * k]);
            tg__jw_str(h, ":");
            tg__jw_quote(h, meta[2 * k + 1]);
        }
        tg__jw_str(h, "}");
    }
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        const tg_tensor *t = tensors[k];
        int dt = tg__st_dtype_of(tg_tensor_dtype(t));
        uint64_t bytes = (uint64_t)tg_tensor_numel(t) * (uint64_t)tg__st_dtypes[dt].size;
        if (k || nmeta > 0) tg__jw_str(h, ",");
        tg__jw_quote(h, names[k]);
        tg__jw_fmt(h, ":{\"dtype\":\"%s\",\"shape\":[", tg__st_dtypes[dt].name);
        for (int d = 0; d < tg_tensor_rank(t); d++)
            tg__jw_fmt(h, "%s%lld", d ? "," : "", (long long)tg_tensor_dim(t, d));
        tg__jw_fmt(h, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += bytes;
        tg__jw_fmt(h, "%llu]}", (unsigned long long)off);
    }
    tg__jw_str(h, "}");
    /* the format's padding: the data starts 8-aligned */
    while (h->n % 8 && !h->oom) tg__jw_str(h, " ");
}
