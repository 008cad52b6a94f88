/* checkpoint.c - save / load named tensors as safetensors files (see
 * tg_checkpoint.h): the handle, the file I/O and the public API on top of
 * safetensors.c (the header) and io_util.c (the atomic writer).
 *
 * Reading: the file is never trusted. The header length is bounded and
 * checked against the file size before anything is allocated; the header
 * is read and checked by tg__st_parse (safetensors.c). Tensor data is read
 * with pread at validated offsets only.
 *
 * Writing: the arguments are checked before the disk is touched; then the
 * header and the data go through tg__io_write_atomic ("<path>.tmp<pid>.<n>"
 * with O_EXCL, fsync, rename over path, fsync the directory).
 *
 * Every allocation goes through tg_malloc / tg_free (the pluggable
 * allocator).
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char *str_dup(const char *s) {
    size_t n = strlen(s);
    char *d = tg_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* --------------------------------------------------------------- reading */

void tg_checkpoint_close(tg_checkpoint *ck) {
    if (!ck) return;
    if (ck->fd >= 0) close(ck->fd);
    for (int i = 0; i < ck->n; i++) tg_free(ck->e[i].name);
    for (int i = 0; i < 2 * ck->nmeta; i++) tg_free(ck->meta[i]);
    tg_free(ck->e);
    tg_free(ck->meta);
    tg_free(ck->byname);
    tg_free(ck->path);
    tg_free(ck);
}

/* Reads exactly n bytes at offset off; false on a short read or error. */
static bool pread_all(int fd, void *buf, size_t n, uint64_t off) {
    unsigned char *b = buf;
    while (n) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return true;
}

tg_status tg__checkpoint_open_e(const char *path, tg_checkpoint **out, char *err, size_t errlen) {
    tg__io_seterr(err, errlen, "%s", "");
    if (out) *out = NULL;
    if (!path || !out) {
        tg__io_seterr(err, errlen, "checkpoint open: %s is NULL", path ? "out" : "path");
        return TG_ERR_NULL;
    }
    tg_checkpoint *ck = tg_malloc(sizeof *ck);
    if (ck) {
        memset(ck, 0, sizeof *ck);
        ck->fd = -1;
        ck->path = str_dup(path);
    }
    if (!ck || !ck->path) {
        tg_checkpoint_close(ck);
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    ck->fd = open(path, O_RDONLY);
    if (ck->fd < 0) {
        tg__io_seterr(err, errlen, "checkpoint '%s': cannot open: %s", path, strerror(errno));
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    struct stat sb;
    if (fstat(ck->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        tg__io_seterr(err, errlen, "checkpoint '%s': not a regular file", path);
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char lenb[8];
    if (fsize < 8 || !pread_all(ck->fd, lenb, 8, 0)) {
        tg__io_seterr(
            err, errlen,
            "checkpoint '%s': file too short (%llu bytes) to hold the 8-byte header length", path,
            (unsigned long long)fsize);
        tg_checkpoint_close(ck);
        return TG_ERR_FORMAT;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | lenb[k];
    if (hlen > TG_CHECKPOINT_MAX_HEADER || hlen > fsize - 8 || hlen < 2) {
        tg__io_seterr(
            err, errlen,
            "checkpoint '%s': header length %llu is %s (the file has %llu bytes; at most %u "
            "are allowed)",
            path, (unsigned long long)hlen,
            hlen < 2           ? "too small for a JSON object"
            : hlen > fsize - 8 ? "larger than the file"
                               : "larger than the limit",
            (unsigned long long)fsize, TG_CHECKPOINT_MAX_HEADER);
        tg_checkpoint_close(ck);
        return TG_ERR_FORMAT;
    }
    unsigned char *hdr = tg_malloc((size_t)hlen);
    if (!hdr) {
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory for a %llu-byte header", path,
                      (unsigned long long)hlen);
        tg_checkpoint_close(ck);
        return TG_ERR_NOMEM;
    }
    if (!pread_all(ck->fd, hdr, (size_t)hlen, 8)) {
        tg__io_seterr(err, errlen, "checkpoint '%s': cannot read the header", path);
        tg_free(hdr);
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    ck->data_start = 8 + hlen;
    ck->data_len = fsize - 8 - hlen;
    tg_status st = tg__st_parse(ck, hdr, (size_t)hlen, err, errlen);
    tg_free(hdr);
    if (st != TG_OK) {
        tg_checkpoint_close(ck);
        return st;
    }
    *out = ck;
    return TG_OK;
}

/* --------------------------------------------------------------- queries */

int tg_checkpoint_count(const tg_checkpoint *ck) { return ck ? ck->n : 0; }

const char *tg_checkpoint_name(const tg_checkpoint *ck, int i) {
    return ck && i >= 0 && i < ck->n ? ck->e[i].name : NULL;
}

int tg_checkpoint_find(const tg_checkpoint *ck, const char *name) {
    if (!ck || !name) return -1;
    int lo = 0, hi = ck->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ck->e[ck->byname[mid]].name);
        if (!c) return ck->byname[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

bool tg_checkpoint_info(const tg_checkpoint *ck, int i, const char **dtype, int *rank,
                        int64_t *shape) {
    if (!ck || i < 0 || i >= ck->n) return false;
    const ck_entry *e = &ck->e[i];
    if (dtype) *dtype = tg__st_dtypes[e->dt].name;
    if (rank) *rank = e->rank;
    if (shape)
        for (int d = 0; d < e->rank; d++) shape[d] = e->shape[d];
    return true;
}

const char *tg_checkpoint_meta(const tg_checkpoint *ck, const char *key) {
    if (!ck || !key) return NULL;
    for (int i = 0; i < ck->nmeta; i++)
        if (!strcmp(ck->meta[2 * i], key)) return ck->meta[2 * i + 1];
    return NULL;
}


/* Checks that entry i fits dst (dtype, shape). */
static tg_status check_dst(const tg_checkpoint *ck, int i, const tg_tensor *dst, char *err,
                           size_t errlen) {
    const ck_entry *e = &ck->e[i];
    if (!dst) {
        tg__io_seterr(err, errlen, "checkpoint '%s': the destination of \"%s\" is NULL", ck->path,
                      e->name);
        return TG_ERR_NULL;
    }
    if (tg_tensor_status(dst) != TG_OK || (e->end > e->begin && !tg_tensor_data(dst))) {
        tg__io_seterr(err, errlen,
                      "checkpoint '%s': the destination of \"%s\" is stale or has no data",
                      ck->path, e->name);
        return TG_ERR_STALE;
    }
    int want = tg__st_dtype_of(tg_tensor_dtype(dst));
    if (tg__st_dtypes[e->dt].tg < 0 || want != e->dt) {
        tg__io_seterr(err, errlen,
                      "checkpoint '%s': tensor \"%s\" has dtype %s in the file but %s in memory",
                      ck->path, e->name, tg__st_dtypes[e->dt].name,
                      want >= 0 ? tg__st_dtypes[want].name : "an unknown dtype");
        return TG_ERR_DTYPE;
    }
    int r = tg_tensor_rank(dst);
    bool same = r == e->rank;
    for (int d = 0; same && d < r; d++) same = tg_tensor_dim(dst, d) == e->shape[d];
    if (!same) {
        char a[128], b[128];
        tg__io_shape_str(e->rank, e->shape, a, sizeof a);
        tg_tensor_shape_str(dst, b, sizeof b);
        tg__io_seterr(err, errlen,
                      "checkpoint '%s': tensor \"%s\" has shape %s in the file but %s in memory",
                      ck->path, e->name, a, b);
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static tg_status read_into(tg_checkpoint *ck, int i, tg_tensor *dst, char *err, size_t errlen) {
    const ck_entry *e = &ck->e[i];
    size_t bytes = (size_t)(e->end - e->begin);
    if (!bytes) return TG_OK;
    if ((uint64_t)bytes != e->end - e->begin) {
        tg__io_seterr(err, errlen, "checkpoint '%s': tensor \"%s\" is too large for this machine",
                      ck->path, e->name);
        return TG_ERR_OVERFLOW;
    }
    unsigned char *d = tg_tensor_data(dst);
    if (!pread_all(ck->fd, d, bytes, ck->data_start + e->begin)) {
        tg__io_seterr(err, errlen, "checkpoint '%s': cannot read the data of tensor \"%s\"",
                      ck->path, e->name);
        return TG_ERR_IO;
    }
    if (!tg__io_host_little()) tg__io_swap(d, bytes, tg__st_dtypes[e->dt].size);
    return TG_OK;
}

tg_status tg__checkpoint_read_e(tg_checkpoint *ck, const char *name, tg_tensor *dst, char *err,
                                size_t errlen) {
    tg__io_seterr(err, errlen, "%s", "");
    if (!ck || !name) {
        tg__io_seterr(err, errlen, "checkpoint read: %s is NULL", ck ? "name" : "the checkpoint");
        return TG_ERR_NULL;
    }
    int i = tg_checkpoint_find(ck, name);
    if (i < 0) {
        tg__io_seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\"", ck->path, name);
        return TG_ERR_ARG;
    }
    tg_status st = check_dst(ck, i, dst, err, errlen);
    return st != TG_OK ? st : read_into(ck, i, dst, err, errlen);
}

tg_tensor *tg__checkpoint_get_e(tg_checkpoint *ck, const char *name, tg_tape *tape, char *err,
                                size_t errlen) {
    tg__io_seterr(err, errlen, "%s", "");
    if (!ck || !name || !tape) {
        tg__io_seterr(err, errlen, "checkpoint get: %s is NULL",
                      !ck ? "the checkpoint" : !name ? "name" : "tape");
        return NULL;
    }
    int i = tg_checkpoint_find(ck, name);
    if (i < 0) {
        tg__io_seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\"", ck->path, name);
        return NULL;
    }
    const ck_entry *e = &ck->e[i];
    if (tg__st_dtypes[e->dt].tg < 0) {
        tg__io_seterr(err, errlen,
                      "checkpoint '%s': tensor \"%s\" has dtype %s, which tapegrad does "
                      "not support (F32, F64, I64)", ck->path, name, tg__st_dtypes[e->dt].name);
        return NULL;
    }
    tg_tensor *t = tg_tensor_new(tape, (tg_dtype)tg__st_dtypes[e->dt].tg, e->rank, e->shape, NULL);
    if (!t) {
        tg__io_seterr(err, errlen, "checkpoint '%s': cannot make tensor \"%s\": %s", ck->path, name,
                      tg_tape_error(tape));
        return NULL;
    }
    return read_into(ck, i, t, err, errlen) == TG_OK ? t : NULL;
}

tg_status tg__checkpoint_load_e(const char *path, int n, const char *const *names,
                                tg_tensor *const *tensors, bool strict, char *err, size_t errlen) {
    tg__io_seterr(err, errlen, "%s", "");
    if (n < 0 || (n > 0 && (!names || !tensors))) {
        tg__io_seterr(err, errlen, "checkpoint load: %s",
                      n < 0 ? "negative count" : "names or tensors is NULL");
        return n < 0 ? TG_ERR_ARG : TG_ERR_NULL;
    }
    tg_checkpoint *ck;
    tg_status st = tg__checkpoint_open_e(path, &ck, err, errlen);
    if (st != TG_OK) return st;
    int *idx = tg_malloc((size_t)(n ? n : 1) * sizeof(int));
    bool *used = tg_malloc((size_t)(ck->n ? ck->n : 1));
    if (!idx || !used) {
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory", path);
        st = TG_ERR_NOMEM;
        goto done;
    }
    memset(used, 0, (size_t)(ck->n ? ck->n : 1));
    for (int k = 0; k < n; k++) {
        if (!names[k]) {
            tg__io_seterr(err, errlen, "checkpoint '%s': name %d is NULL", path, k);
            st = TG_ERR_NULL;
            goto done;
        }
        idx[k] = tg_checkpoint_find(ck, names[k]);
        if (idx[k] < 0) {
            tg__io_seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\" (missing key)",
                          path, names[k]);
            st = TG_ERR_ARG;
            goto done;
        }
        if ((st = check_dst(ck, idx[k], tensors[k], err, errlen)) != TG_OK) goto done;
        used[idx[k]] = true;
    }
    if (strict)
        for (int i = 0; i < ck->n; i++)
            if (!used[i]) {
                tg__io_seterr(err, errlen, "checkpoint '%s': unexpected tensor \"%s\" in the file "
                              "(strict load)", path, ck->e[i].name);
                st = TG_ERR_ARG;
                goto done;
            }
    for (int k = 0; k < n && st == TG_OK; k++) st = read_into(ck, idx[k], tensors[k], err, errlen);
done:
    tg_free(idx);
    tg_free(used);
    tg_checkpoint_close(ck);
    return st;
}

/* ---------------------------------------------------------------- saving */

static bool write_tensor(int fd, const tg_tensor *t, size_t bytes, int size) {
    const unsigned char *d = tg_tensor_data(t);
    if (!bytes) return true;
    if (tg__io_host_little()) return tg__io_write_all(fd, d, bytes);
    unsigned char tmp[4096];
    for (size_t o = 0; o < bytes; o += sizeof tmp) {
        size_t k = bytes - o < sizeof tmp ? bytes - o : sizeof tmp;
        memcpy(tmp, d + o, k);
        tg__io_swap(tmp, k, size);
        if (!tg__io_write_all(fd, tmp, k)) return false;
    }
    return true;
}

/* What tg__io_write_atomic's callback writes: the header length, the
 * header, the tensors' data. */
typedef struct file_parts {
    const tg__jw *h;
    int n;
    tg_tensor *const *tensors;
} file_parts;

static bool put_file(int fd, void *ctx) {
    const file_parts *fp = ctx;
    unsigned char lenb[8];
    for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)((uint64_t)fp->h->n >> (8 * k));
    bool ok = tg__io_write_all(fd, lenb, 8) && tg__io_write_all(fd, fp->h->p, fp->h->n);
    for (int k = 0; ok && k < fp->n; k++) {
        const tg__st_dtype *dt = &tg__st_dtypes[tg__st_dtype_of(tg_tensor_dtype(fp->tensors[k]))];
        ok = write_tensor(fd, fp->tensors[k],
                          (size_t)tg_tensor_numel(fp->tensors[k]) * (size_t)dt->size, dt->size);
    }
    return ok;
}

tg_status tg__checkpoint_save_e(const char *path, int n, const char *const *names,
                                tg_tensor *const *tensors, int nmeta, const char *const *meta,
                                char *err, size_t errlen) {
    tg__io_seterr(err, errlen, "%s", "");
    if (!path || (n > 0 && (!names || !tensors)) || (nmeta > 0 && !meta)) {
        tg__io_seterr(err, errlen, "checkpoint save: %s is NULL",
                      !path ? "path" : nmeta > 0 && !meta ? "meta" : "names or tensors");
        return TG_ERR_NULL;
    }
    if (n < 0 || nmeta < 0) {
        tg__io_seterr(err, errlen, "checkpoint save '%s': negative count", path);
        return TG_ERR_ARG;
    }
    /* validate the arguments before touching the disk */
    for (int k = 0; k < n; k++) {
        const char *nm = names[k];
        if (!nm || !*nm || !strcmp(nm, "__metadata__") || !tg__json_utf8_ok(nm)) {
            tg__io_seterr(err, errlen, "checkpoint save '%s': name %d %s", path, k,
                          !nm    ? "is NULL"
                          : !*nm ? "is empty"
                          : *nm == '_' && !strcmp(nm, "__metadata__")
                              ? "is the reserved \"__metadata__\""
                              : "is not valid UTF-8");
            return nm ? TG_ERR_ARG : TG_ERR_NULL;
        }
        const tg_tensor *t = tensors[k];
        if (!t) {
            tg__io_seterr(err, errlen, "checkpoint save '%s': tensor \"%s\" is NULL", path, nm);
            return TG_ERR_NULL;
        }
        if (tg__st_dtype_of(tg_tensor_dtype(t)) < 0) {
            tg__io_seterr(err, errlen,
                          "checkpoint save '%s': tensor \"%s\" has an unsupported dtype", path, nm);
            return TG_ERR_DTYPE;
        }
        if (tg_tensor_status(t) != TG_OK || (tg_tensor_numel(t) > 0 && !tg_tensor_data(t))) {
            tg__io_seterr(err, errlen,
                          "checkpoint save '%s': tensor \"%s\" is stale (from before a "
                          "tg_tape_reset)", path, nm);
            return TG_ERR_STALE;
        }
    }
    for (int k = 0; k < 2 * nmeta; k++)
        if (!meta[k] || !tg__json_utf8_ok(meta[k])) {
            tg__io_seterr(err, errlen, "checkpoint save '%s': metadata %s %d %s", path,
                          k % 2 ? "value" : "key", k / 2,
                          meta[k] ? "is not valid UTF-8" : "is NULL");
            return meta[k] ? TG_ERR_ARG : TG_ERR_NULL;
        }
    const char *dup;
    for (int pass = 0; pass < 2; pass++) {
        if (tg__st_first_dup(pass ? nmeta : n, pass ? meta : names, pass ? 2 : 1, &dup) != TG_OK) {
            tg__io_seterr(err, errlen, "checkpoint save '%s': out of memory", path);
            return TG_ERR_NOMEM;
        }
        if (dup) {
            tg__io_seterr(err, errlen, "checkpoint save '%s': %s \"%s\" is given twice", path,
                          pass ? "metadata key" : "tensor name", dup);
            return TG_ERR_ARG;
        }
    }

    tg__jw h = {0};
    tg__st_header(&h, n, names, tensors, nmeta, meta);
    if (h.oom) {
        tg_free(h.p);
        tg__io_seterr(err, errlen, "checkpoint save '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    file_parts fp = {&h, n, tensors};
    char why[160];
    tg_status st = tg__io_write_atomic(path, put_file, &fp, why, sizeof why);
    tg_free(h.p);
    if (st != TG_OK) tg__io_seterr(err, errlen, "checkpoint save '%s': %s", path, why);
    return st;
}

/* ----------------------------------------------- named lists (tg_params) */

/* Flattens the lists into (names, tensors) arrays (tg_malloc'd, one block). */
static tg_status flatten(const char *path, int nlists, tg_params *const *lists, int *n,
                         const char ***names, tg_tensor ***ts, char *err, size_t errlen) {
    if (nlists < 0 || (nlists > 0 && !lists)) {
        tg__io_seterr(err, errlen, "checkpoint '%s': bad list of parameter lists",
                      path ? path : "(null)");
        return nlists < 0 ? TG_ERR_ARG : TG_ERR_NULL;
    }
    int total = 0;
    for (int l = 0; l < nlists; l++) {
        if (!lists[l]) {
            tg__io_seterr(err, errlen, "checkpoint '%s': parameter list %d is NULL",
                          path ? path : "(null)", l);
            return TG_ERR_NULL;
        }
        total += tg_params_count(lists[l]);
    }
    size_t k = (size_t)(total ? total : 1);
    void *block = tg_malloc(k * (sizeof(char *) + sizeof(tg_tensor *)));
    if (!block) {
        tg__io_seterr(err, errlen, "checkpoint '%s': out of memory", path ? path : "(null)");
        return TG_ERR_NOMEM;
    }
    *ts = block;
    *names = (const char **)((tg_tensor **)block + k);
    int i = 0;
    for (int l = 0; l < nlists; l++)
        for (int j = 0; j < tg_params_count(lists[l]); j++, i++) {
            (*names)[i] = tg_params_name(lists[l], j);
            (*ts)[i] = tg_params_at(lists[l], j);
        }
    *n = total;
    return TG_OK;
}

/* tg_checkpoint_save (save) or tg_checkpoint_load of the lists' tensors. */
static tg_status params_io(bool save, const char *path, int nlists, tg_params *const *lists,
                           int nmeta, const char *const *meta, bool strict, char *err,
                           size_t errlen) {
    const char **names;
    tg_tensor **ts;
    int n;
    tg__io_seterr(err, errlen, "%s", "");
    tg_status st = flatten(path, nlists, lists, &n, &names, &ts, err, errlen);
    if (st != TG_OK) return st;
    st = save ? tg__checkpoint_save_e(path, n, names, ts, nmeta, meta, err, errlen)
              : tg__checkpoint_load_e(path, n, names, ts, strict, err, errlen);
    tg_free(ts);
    return st;
}

tg_status tg__checkpoint_save_params_e(const char *path, int nlists, tg_params *const *lists,
                                       int nmeta, const char *const *meta, char *err,
                                       size_t errlen) {
    return params_io(true, path, nlists, lists, nmeta, meta, false, err, errlen);
}

tg_status tg__checkpoint_load_params_e(const char *path, int nlists, tg_params *const *lists,
                                       bool strict, char *err, size_t errlen) {
    return params_io(false, path, nlists, lists, 0, NULL, strict, err, errlen);
}
