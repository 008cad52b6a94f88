/* fuzz_csv.c - random bytes as a CSV file, under random options. The
 * reader must never crash, leak or read out of bounds: every file either
 * reads back as a consistent data set (finite features, labels in range)
 * or fails with a status and a sentence naming the file.
 *
 * The first byte picks the options (delimiter, header mode, label column);
 * the rest is the file. A data set that reads is then normalized and
 * batched onto a tape. A UTF-8 byte-order mark in front of a text file
 * must change nothing: the same status, message and data.
 *
 * libFuzzer:  ./build-fuzz/tests/fuzz/fuzz_csv -max_total_time=60 tests/fuzz/corpus/csv
 * The normal suite replays the committed corpus (tests/fuzz/replay.c). */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail_if(int cond, const char *what, const char *err) {
    if (cond) {
        fprintf(stderr, "fuzz_csv: %s (error: %s)\n", what, err);
        abort(); /* a harness, not the library: libFuzzer wants a crash */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[128];
    snprintf(path, sizeof path, "%s/tg_fuzz_csv_%ld.csv",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    bool wrote = fwrite(data + 1, 1, size - 1, f) == size - 1;
    if (fclose(f) != 0 || !wrote) return 0;

    unsigned o = data[0];
    static const char delims[] = {0, ',', ';', '\t', ' ', '|', '"', '\n'};
    tg_csv_opts opts = {0};
    opts.delimiter = delims[o & 7];
    opts.header = (int)((o >> 3) % 3) - 1;
    opts.has_label = (o >> 5) & 1;
    opts.label_col = (int)(o >> 6) - 2; /* -2..1 */
    char err[512]; /* a copy: the BOM read below writes tg_last_error() again */
    tg_dataset d;
    tg_clear_error(); /* a failure must write its own sentence */
    tg_status st = tg_csv_read(path, &opts, &d);
    snprintf(err, sizeof err, "%s", tg_last_error());
    /* (not in front of a BOM already, nor of gzip data, whose magic it hides) */
    if ((size < 4 || memcmp(data + 1, "\xef\xbb\xbf", 3) != 0) &&
        (size < 3 || memcmp(data + 1, "\x1f\x8b", 2) != 0)) {
        char bpath[160], berr[512];
        snprintf(bpath, sizeof bpath, "%s.bom", path);
        f = fopen(bpath, "wb");
        bool ok = f && fwrite("\xef\xbb\xbf", 1, 3, f) == 3 &&
                  fwrite(data + 1, 1, size - 1, f) == size - 1;
        if (f && fclose(f) != 0) ok = false;
        tg_dataset b;
        if (ok) {
            tg_clear_error();
            tg_status sb = tg_csv_read(bpath, &opts, &b);
            snprintf(berr, sizeof berr, "%s", tg_last_error());
            fail_if(sb != st, "a byte-order mark changed the status", berr);
            /* the same sentence, but for the file's name */
            const char *e1 = strstr(err, path), *e2 = strstr(berr, bpath);
            fail_if(st != TG_OK && st != TG_ERR_ARG && e1 && e2 &&
                        strcmp(e1 + strlen(path), e2 + strlen(bpath)) != 0,
                    "a byte-order mark changed the error", berr);
            bool same = sb == st && (st != TG_OK || (b.n == d.n && b.dim == d.dim &&
                                                     b.nclasses == d.nclasses));
            if (same && st == TG_OK) {
                same = !memcmp(b.x, d.x, sizeof(float) * (size_t)(d.n * d.dim)) &&
                       (!opts.has_label || !memcmp(b.y, d.y, sizeof(int64_t) * (size_t)d.n));
            }
            fail_if(!same, "a byte-order mark changed the data", berr);
            tg_dataset_free(&b);
        }
        unlink(bpath);
    }
    if (st != TG_OK) {
        fail_if(!err[0], "an error without a message", "");
        fail_if(st != TG_ERR_ARG && strstr(err, path) == NULL, "an error that does not name the file", err);
        fail_if(d.x || d.y || d.n, "data set not zeroed on failure", err);
        unlink(path);
        return 0;
    }
    fail_if(d.n < 0 || d.dim < 0 || d.rank != 1 || d.shape[0] != d.dim, "inconsistent data set", "");
    for (int64_t i = 0; i < d.n * d.dim; i++) fail_if(!isfinite(d.x[i]), "a non-finite feature", "");
    if (opts.has_label)
        for (int64_t i = 0; i < d.n; i++)
            fail_if(!d.y || d.y[i] < 0 || d.y[i] >= d.nclasses, "a label out of range", "");
    double lo, hi;
    tg_dataset_range(&d, &lo, &hi);
    if (hi > lo) tg_dataset_scale(&d, lo, hi);
    if (d.dim > 0 && d.dim < 4096) {
        double *mean = malloc(sizeof(double) * (size_t)d.dim), *sd = malloc(sizeof(double) * (size_t)d.dim);
        if (mean && sd && tg_dataset_stats(&d, true, mean, sd) == TG_OK)
            tg_dataset_standardize(&d, true, mean, sd);
        free(mean);
        free(sd);
    }
    tg_batcher b;
    tg_tape *t = tg_tape_new();
    if (t && d.n > 0 && tg_batcher_init(&b, &d, 3, true, 7) == TG_OK) {
        const int64_t *idx;
        int64_t k;
        while ((k = tg_batcher_next(&b, &idx)) > 0) {
            tg_tensor *x = tg_dataset_batch_x(t, &d, k, idx, TG_F32, true);
            fail_if(!x && tg_tape_status(t) != TG_ERR_NOMEM, "batch_x", tg_tape_error(t));
            if (opts.has_label) {
                tg_tensor *y = tg_dataset_batch_y(t, &d, k, idx);
                fail_if(!y && tg_tape_status(t) != TG_ERR_NOMEM, "batch_y", tg_tape_error(t));
            }
            tg_tape_reset(t);
        }
        tg_batcher_free(&b);
    }
    tg_tape_free(t);
    tg_dataset_free(&d);
    unlink(path);
    return 0;
}
