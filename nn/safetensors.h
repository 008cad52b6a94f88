/* safetensors.h - the safetensors header under tg_checkpoint (internal to
 * nn/, not installed): the dtype table, the checkpoint record, reading a
 * header into it (strict JSON of exactly one schema, then every rule the
 * format has), and writing one. checkpoint.c does the file I/O and the
 * public API on top.
 */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include "json.h"

/* A safetensors dtype: "F32", its size, and the tg_dtype (-1: none). */
typedef struct tg__st_dtype {
    const char *name;
    int size;    /* bytes per element */
    int tg;      /* the tg_dtype, or -1 if tapegrad has no such type */
} tg__st_dtype;

/* Every dtype of the format; ck_entry.dt indexes it. */
extern const tg__st_dtype tg__st_dtypes[];

/* The index of dt in tg__st_dtypes, or -1. */
int tg__st_dtype_of(tg_dtype dt);

typedef struct ck_entry {
    char *name;
    int dt;                      /* index into tg__st_dtypes */
    int rank;
    int64_t shape[TG_MAX_RANK];
    uint64_t begin, end;         /* relative to the data section */
} ck_entry;

struct tg_checkpoint {
    int fd;
    char *path;
    uint64_t data_start, data_len;
    int n;
    size_t cap;
    ck_entry *e;
    int *byname;                 /* entry indices sorted by name */
    int nmeta;
    size_t metacap;              /* in strings */
    char **meta;                 /* key, value, key, value, ... */
};

/* Reads the JSON header hdr[0..hlen) into ck (whose path and data_len are
 * set) and checks it: dtypes, shapes, offsets that tile the data section
 * exactly, no duplicate names or metadata keys. Returns TG_OK,
 * TG_ERR_FORMAT or TG_ERR_NOMEM, with a sentence naming ck->path in err.
 * On failure ck holds what was read so far (tg_checkpoint_close frees
 * it). */
tg_status tg__st_parse(tg_checkpoint *ck, const unsigned char *hdr, size_t hlen, char *err,
                       size_t errlen);

/* The first string that appears twice among s[0], s[stride], ...,
 * s[(n-1)*stride] into *dup (NULL if none). TG_OK or TG_ERR_NOMEM. */
tg_status tg__st_first_dup(int n, const char *const *s, int stride, const char **dup);

/* Appends the header of a file holding tensors[k] under names[k] (k < n,
 * in that order, dtypes in tg__st_dtypes) and the nmeta (key, value)
 * pairs in meta, padded with spaces to a multiple of 8 bytes. The caller
 * has checked the arguments and checks h->oom. */
void tg__st_header(tg__jw *h, int n, const char *const *names, tg_tensor *const *tensors,
                   int nmeta, const char *const *meta);

#endif
