/* fuzz_checkpoint.c - random bytes as a safetensors file. The reader must
 * never crash, leak or read out of bounds: every file either opens and
 * reads back cleanly or fails with a status and a sentence naming the file.
 * The bytes go to a file in /dev/shm (the reader works on paths); then
 * tg_checkpoint_open, every inspection function, tg_checkpoint_get and
 * tg_checkpoint_read of every readable tensor, and tg_checkpoint_load.
 *
 * libFuzzer:  CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz
 *             ./build-fuzz/tests/fuzz/fuzz_checkpoint -max_total_time=60 \
 *                 tests/fuzz/corpus/checkpoint
 * The normal suite replays the committed corpus (tests/fuzz/replay.c). */
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail_if(int cond, const char *what, const char *err) {
    if (cond) {
        fprintf(stderr, "fuzz_checkpoint: %s (error: %s)\n", what, err);
        abort(); /* a harness, not the library: libFuzzer wants a crash */
    }
}

static bool write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* A clean error: a known status and a sentence naming the file. */
static void check_err(tg_status st, const char *err, const char *path) {
    fail_if(st == TG_OK, "expected an error", err);
    fail_if(!err[0], "an error without a message", err);
    fail_if(strstr(err, path) == NULL, "an error that does not name the file", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "%s/tg_fuzz_checkpoint_%ld.safetensors",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    if (!write_file(path, data, size)) return 0;
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_checkpoint *ck = NULL;
    tg_clear_error(); /* each call writes its own sentence */
    tg_status st = tg_checkpoint_open(path, &ck);
    if (st != TG_OK) {
        fail_if(ck != NULL, "a handle on failure", err);
        check_err(st, err, path);
        unlink(path);
        return 0;
    }
    fail_if(!ck, "TG_OK without a handle", "");
    tg_tape *t = tg_tape_new();
    int n = tg_checkpoint_count(ck);
    fail_if(n < 0, "negative count", "");
    fail_if(tg_checkpoint_name(ck, n) != NULL || tg_checkpoint_name(ck, -1) != NULL,
            "a name out of range", "");
    (void)tg_checkpoint_meta(ck, "format");
    (void)tg_checkpoint_meta(ck, "");
    const char **names = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    tg_tensor **dst = calloc((size_t)(n ? n : 1), sizeof(tg_tensor *));
    int nread = 0;
    for (int i = 0; i < n && names && dst; i++) {
        const char *name = tg_checkpoint_name(ck, i);
        fail_if(!name, "a NULL name in range", "");
        fail_if(tg_checkpoint_find(ck, name) != i, "find disagrees with name", name);
        const char *dt;
        int rank;
        int64_t shape[TG_MAX_RANK];
        fail_if(!tg_checkpoint_info(ck, i, &dt, &rank, shape), "info of a tensor in range", name);
        fail_if(rank < 0 || rank > TG_MAX_RANK, "a bad rank", name);
        tg_clear_error(); /* each call writes its own sentence */
        tg_tensor *x = t ? tg_checkpoint_get(ck, name, t) : NULL;
        if (!x || !t) {
            if (t) fail_if(!err[0], "get failed without a message", name);
            if (t) tg_tape_reset(t);
            continue;
        }
        /* read it again into a parameter of the same dtype and shape */
        tg_tensor *p = tg_param_new(tg_tensor_dtype(x), tg_tensor_rank(x), tg_tensor_shape(x));
        if (p) {
            tg_clear_error(); /* each call writes its own sentence */
            st = tg_checkpoint_read(ck, name, p);
            fail_if(st != TG_OK && st != TG_ERR_NOMEM && st != TG_ERR_IO, "read after get", err);
            if (st == TG_OK) {
                size_t bytes = (size_t)tg_tensor_numel(p) * (tg_tensor_dtype(p) == TG_F32 ? 4u : 8u);
                fail_if(bytes && memcmp(tg_tensor_data(p), tg_tensor_data(x), bytes) != 0,
                        "get and read disagree", name);
            }
            char *copy = malloc(strlen(name) + 1); /* name lives as long as ck */
            if (copy) {
                strcpy(copy, name);
                names[nread] = copy;
                dst[nread++] = p;
            } else {
                tg_param_free(p);
            }
        }
    }
    tg_checkpoint_close(ck);
    /* the whole file through tg_checkpoint_load, strict and not */
    if (names && dst) {
        tg_clear_error(); /* each call writes its own sentence */
        st = tg_checkpoint_load(path, nread, names, dst, false);
        fail_if(st != TG_OK && st != TG_ERR_NOMEM, "load of what open accepted", err);
        tg_clear_error(); /* each call writes its own sentence */
        st = tg_checkpoint_load(path, nread, names, dst, true);
        if (st != TG_OK) check_err(st, err, path);
    }
    for (int i = 0; i < nread; i++) {
        tg_param_free(dst[i]);
        free((char *)names[i]);
    }
    free(names);
    free(dst);
    tg_tape_free(t);
    unlink(path);
    return 0;
}
