/* fuzz_idx.c - random bytes as an IDX file, plain or gzip'd. The reader
 * must never crash, leak or read out of bounds: every file either reads
 * back with a consistent shape and element count or fails with a status
 * and a sentence naming the file.
 *
 * The first byte picks the mode: even, the rest of the input is written
 * as is (so raw gzip streams, corrupt or not, reach zlib when they start
 * with 1f 8b); odd, the rest is gzip-compressed first when the library has
 * zlib (so the IDX parser is fuzzed behind the gzip layer too). The file
 * goes through tg_idx_read and, as both images and labels, tg_mnist_load;
 * a file that reads whole reads its first k items the same
 * (tg_idx_read_first).
 * In the gzip'd mode the gzip layer must be invisible: the same bytes
 * written plain read the same (status, shape and elements), and one byte
 * appended after the gzip data makes the read fail.
 *
 * libFuzzer:  ./build-fuzz/tests/fuzz/fuzz_idx -max_total_time=60 tests/fuzz/corpus/idx
 * The normal suite replays the committed corpus (tests/fuzz/replay.c). */
#include <tapegrad.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef TG_HAVE_ZLIB
#include <zlib.h>
#endif

static void fail_if(int cond, const char *what, const char *err) {
    if (cond) {
        fprintf(stderr, "fuzz_idx: %s (error: %s)\n", what, err);
        abort(); /* a harness, not the library: libFuzzer wants a crash */
    }
}

static bool write_file(const char *path, const uint8_t *data, size_t size, bool gz) {
#ifdef TG_HAVE_ZLIB
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) return false;
        bool ok = size == 0 || gzwrite(f, data, (unsigned)size) == (int)size;
        return gzclose(f) == Z_OK && ok;
    }
#else
    (void)gz;
#endif
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[128];
    snprintf(path, sizeof path, "%s/tg_fuzz_idx_%ld", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (long)getpid());
    if (!write_file(path, data + 1, size - 1, data[0] & 1)) return 0;
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_idx m;
    tg_clear_error(); /* each call writes its own sentence */
    tg_status st = tg_idx_read(path, &m);
    if (st == TG_OK) {
        fail_if(m.rank < 1 || m.rank > TG_MAX_RANK, "a bad rank", "");
        int64_t numel = 1;
        bool zero = false;
        for (int d = 0; d < m.rank; d++) {
            fail_if(m.shape[d] < 0, "a negative size", "");
            zero |= m.shape[d] == 0;
        }
        for (int d = 0; d < m.rank && !zero; d++) {
            fail_if(m.shape[d] > INT64_MAX / numel, "an accepted shape that overflows", "");
            numel *= m.shape[d];
        }
        if (zero) numel = 0;
        fail_if(numel != m.numel, "numel is not the product of the shape", "");
        fail_if(m.numel > 0 && !m.data, "no data", "");
        double s = 0;
        for (int64_t i = 0; i < m.numel; i++) {
            double v = tg_idx_get(&m, i);
            if (isfinite(v)) s += v;
        }
        (void)s;
        fail_if(!isnan(tg_idx_get(&m, m.numel)) || !isnan(tg_idx_get(&m, -1)),
                "an element out of range", "");
        /* the first k items alone: the same prefix (k from the first byte) */
        int64_t k = 1 + (data[0] >> 1) % 8;
        tg_idx f;
        tg_clear_error(); /* each call writes its own sentence */
        tg_status sf = tg_idx_read_first(path, k, &f);
        int64_t fk = k < m.shape[0] ? k : m.shape[0];
        int64_t fn = m.shape[0] ? m.numel / m.shape[0] * fk : 0;
        fail_if(sf != TG_OK || f.shape[0] != fk || f.numel != fn, "a prefix of a good file", err);
        for (int64_t i = 0; sf == TG_OK && i < f.numel; i++)
            fail_if(memcmp(&(double){tg_idx_get(&f, i)}, &(double){tg_idx_get(&m, i)}, 8) != 0,
                    "a prefix's element differs", "");
        tg_idx_free(&f);
    } else {
        fail_if(!err[0], "an error without a message", "");
        fail_if(strstr(err, path) == NULL, "an error that does not name the file", err);
        fail_if(m.data || m.numel || m.rank, "output not zeroed on failure", err);
    }
#ifdef TG_HAVE_ZLIB
    /* plain bytes that start 1f 8b are gzip themselves: not the same file */
    if ((data[0] & 1) && !(size >= 3 && data[1] == 0x1f && data[2] == 0x8b)) {
        char plain[160];
        snprintf(plain, sizeof plain, "%s.plain", path);
        if (write_file(plain, data + 1, size - 1, false)) {
            tg_idx p;
            tg_clear_error(); /* each call writes its own sentence */
            tg_status sp = tg_idx_read(plain, &p);
            fail_if(sp != st, "gzip'd and plain bytes read differently", err);
            if (sp == TG_OK && st == TG_OK) {
                bool same = p.type == m.type && p.rank == m.rank && p.numel == m.numel &&
                            !memcmp(p.shape, m.shape, sizeof p.shape);
                int esize = m.type == TG_IDX_F64 ? 8 : m.type == TG_IDX_I32 || m.type == TG_IDX_F32 ? 4
                            : m.type == TG_IDX_I16 ? 2 : 1;
                same = same && (m.numel == 0 || !memcmp(p.data, m.data, (size_t)m.numel * (size_t)esize));
                fail_if(!same, "gzip'd and plain bytes give different data", "");
            }
            tg_idx_free(&p);
            unlink(plain);
        }
        FILE *f = fopen(path, "ab");
        bool appended = f && fputc('x', f) != EOF;
        if (f && fclose(f) != 0) appended = false;
        if (appended) {
            tg_idx g;
            tg_clear_error(); /* each call writes its own sentence */
            tg_status sg = tg_idx_read(path, &g);
            fail_if(sg != TG_ERR_FORMAT, "a byte after the gzip data was accepted", err);
            fail_if(st == TG_OK && !strstr(err, "not a gzip member"),
                    "a byte after the gzip data: the wrong reason", err);
            tg_idx_free(&g);
        }
        write_file(path, data + 1, size - 1, true); /* as it was, for tg_mnist_load */
    }
#endif
    tg_idx_free(&m);
    tg_idx_free(&m); /* twice is allowed */

    tg_dataset d;
    tg_clear_error(); /* each call writes its own sentence */
    st = tg_mnist_load(path, path, &d);
    if (st == TG_OK) {
        fail_if(d.n < 0 || d.dim < 0, "a negative count", "");
        for (int64_t i = 0; i < d.n; i++)
            fail_if(d.y[i] < 0 || d.y[i] >= d.nclasses, "a label out of range", "");
    } else {
        fail_if(!err[0], "an error without a message", "");
        fail_if(d.x || d.y || d.n, "data set not zeroed on failure", err);
    }
    tg_dataset_free(&d);
    unlink(path);
    return 0;
}
