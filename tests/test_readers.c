/* test_readers.c - the promises of the file readers (nn/csv.c, nn/idx.c,
 * nn/io_util.c) that an attack broke: no data line dropped silently as a
 * CSV "header" (a UTF-8 byte-order mark, a long number, a first line that
 * is neither header nor data), numbers read the same under any C locale,
 * and nothing accepted after the end of a gzip stream (while several
 * gzip members are read as one stream). test_data.c covers the rest.
 *
 * Usage: test_readers <tests/data dir>
 * The files in tests/data come from tests/data/make_data.py. */
#include "tg_test.h"

#include <dirent.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

/* The test runs in the data directory: files are named as they are. */
static char tmpdir[64] = "/tmp/tg_test_readers_XXXXXX";

#ifdef TG_HAVE_ZLIB
static const bool zlib = true;
#else
static const bool zlib = false;
#endif

/* Reads a CSV file; on success checks n x dim and the values (row-major). */
static void expect_table(const char *file, const tg_csv_opts *o, int64_t n, int64_t dim,
                         const float *want) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_clear_error();
    tg_status s = tg_csv_read(file, o, &d);
    CHECK(s == TG_OK && err[0] == 0, "%s: %s (%s)", file, err, tg_status_name(s));
    CHECK(d.n == n && d.dim == dim, "%s: %lld x %lld, expected %lld x %lld", file, (long long)d.n,
          (long long)d.dim, (long long)n, (long long)dim);
    int bad = 0;
    for (int64_t i = 0; s == TG_OK && d.n == n && d.dim == dim && i < n * dim; i++) {
        if (d.x[i] != want[i])
            fprintf(stderr, "%s: x[%lld] = %.9g, expected %.9g\n", file, (long long)i, d.x[i],
                    want[i]);
        bad += d.x[i] != want[i];
    }
    CHECK(bad == 0, "%s: %d values differ", file, bad);
    tg_dataset_free(&d);
}

/* Reading file fails with status s and a sentence holding needle. */
static void expect_csv_error(const char *file, const tg_csv_opts *o, tg_status s, const char *needle) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    memset(&d, 0x5a, sizeof d);
    tg_clear_error(); /* the sentence must be this call's */
    tg_status got = tg_csv_read(file, o, &d);
    CHECK(got == s && strstr(err, needle), "%s: %s (%s), expected %s and \"%s\"", file, err,
          tg_status_name(got), tg_status_name(s), needle);
    CHECK(d.x == NULL && d.y == NULL && d.n == 0, "%s: data set not cleared", file);
}

/* ------------------------------------------------------ CSV header rule */

/* A UTF-8 byte-order mark is not part of the first field: the old reader
 * took "\xef\xbb\xbf1.5" for text and dropped the line as a header. */
static void test_bom(void) {
    expect_table("bom.csv", NULL, 2, 2, (const float[]){1.5f, 2, 3, 4});
    expect_table("bom.csv", &(tg_csv_opts){.header = -1}, 2, 2, (const float[]){1.5f, 2, 3, 4});
    expect_table("bom_header.csv", NULL, 1, 2, (const float[]){1, 2});
}

/* A number is a number at any length: the old reader parsed at most 127
 * characters, so a long first line was dropped as a header and a long
 * later field was "not a number". */
static void test_long_numbers(void) {
    expect_table("longnum.csv", NULL, 2, 2, (const float[]){1.5f, 2, 3, 1.5f});
    expect_table("longnum.csv", &(tg_csv_opts){.header = -1}, 2, 2, (const float[]){1.5f, 2, 3, 1.5f});
}

/* The first line is a header only when no field is a number, data only
 * when every field is one; anything between is an error naming the line
 * and the field (the old reader dropped "1,2,3x" as a header). */
static void test_header_rule(void) {
    expect_csv_error("mixed_first.csv", NULL, TG_ERR_FORMAT,
                     "mixed_first.csv:1: field 3 is \"3x\", not a number, but field 1 is a number");
    expect_csv_error("mixed_first.csv", NULL, TG_ERR_FORMAT, "neither a header");
    /* said explicitly, the same line is a header, or data with a bad field */
    expect_table("mixed_first.csv", &(tg_csv_opts){.header = 1}, 1, 3, (const float[]){4, 5, 6});
    expect_csv_error("mixed_first.csv", &(tg_csv_opts){.header = -1}, TG_ERR_FORMAT,
                     "mixed_first.csv:1: field 3 is \"3x\", not a finite number");
    /* an empty name is not a number: still a header */
    expect_table("nameless_header.csv", NULL, 1, 3, (const float[]){1, 2, 3});
    /* unchanged: a header of names, a numeric first line */
    expect_table("table.csv", &(tg_csv_opts){.has_label = true, .label_col = -1}, 3, 2,
                 (const float[]){1.5f, -2, 300, 4, 0.25f, 16});
    expect_table("noheader.csv", NULL, 2, 3, (const float[]){1, 2, 3, 4, 5, 6});
}

/* ---------------------------------------------------------- CSV locale */

/* Removes dir and everything under it (the generated locale). */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            remove(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* Switches the whole process to a locale whose decimal point is ','.
 * Installed ones first; else, where localedef and glibc's locale sources
 * exist, de_DE.UTF-8 is compiled into tmpdir/locale and found through
 * LOCPATH. The name used, or NULL. */
static const char *comma_locale(char *gen, size_t n) {
    static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8",
                                  "fr_FR.utf8", "nl_NL.UTF-8", "es_ES.UTF-8", "it_IT.UTF-8",
                                  "ru_RU.UTF-8", "pt_BR.UTF-8"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (setlocale(LC_ALL, names[i]) && !strcmp(localeconv()->decimal_point, ","))
                return names[i];
        setlocale(LC_ALL, "C");
        if (pass == 1 || access("/usr/share/i18n/locales/de_DE", R_OK) != 0) break;
        snprintf(gen, n, "%s/locale", tmpdir);
        char cmd[1200];
        snprintf(cmd, sizeof cmd,
                 "{ mkdir -p '%s' && localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8'; } >/dev/null 2>&1",
                 gen, gen);
        if (system(cmd) == -1) break;
        setenv("LOCPATH", gen, 1);
    }
    return NULL;
}

/* A program that set a locale with a decimal comma still reads "1.5" as
 * 1.5 (strtod follows LC_NUMERIC: the old reader failed on "1.5"), and
 * its locale is as it was afterwards. */
static void test_locale(void) {
    char gen[512] = "";
    const char *name = comma_locale(gen, sizeof gen);
    if (!name) {
        printf("readers: no locale with a decimal comma (install one: localedef -i de_DE -f "
               "UTF-8 de_DE.UTF-8), skipping the locale check\n");
    } else {
        printf("readers: locale check under %s%s\n", name, gen[0] ? " (generated)" : "");
        CHECK(strtod("1,5", NULL) == 1.5, "%s: strtod should read a decimal comma", name);
        tg_csv_opts lab = {.has_label = true, .label_col = -1};
        expect_table("table.csv", &lab, 3, 2, (const float[]){1.5f, -2, 300, 4, 0.25f, 16});
        expect_table("bom.csv", NULL, 2, 2, (const float[]){1.5f, 2, 3, 4});
        expect_csv_error("nan.csv", NULL, TG_ERR_FORMAT, "nan.csv:2: field 1 is \"nan\", not a finite number");
        CHECK(!strcmp(localeconv()->decimal_point, ",") && strtod("1,5", NULL) == 1.5,
              "tg_csv_read changed the caller's locale");
    }
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    if (gen[0]) remove_tree(gen);
}

/* ---------------------------------------------------------------- gzip */

static void expect_idx(const char *file, tg_status s, const char *needle) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_idx m;
    memset(&m, 0x5a, sizeof m);
    tg_clear_error(); /* the sentence must be this call's */
    tg_status got = tg_idx_read(file, &m);
    CHECK(got == s && strstr(err, needle) && (got == TG_OK || strstr(err, file)),
          "%s: %s (%s), expected %s and \"%s\"", file, err, tg_status_name(got), tg_status_name(s),
          needle);
    if (got == TG_OK) {
        static const double px[12] = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 255};
        CHECK(m.type == TG_IDX_U8 && m.rank == 3 && m.shape[0] == 3 && m.shape[1] == 2 &&
                  m.shape[2] == 2 && m.numel == 12,
              "%s: type %d rank %d numel %lld", file, m.type, m.rank, (long long)m.numel);
        int bad = 0;
        for (int i = 0; i < 12 && m.numel == 12; i++) bad += tg_idx_get(&m, i) != px[i];
        CHECK(bad == 0, "%s: %d values differ", file, bad);
    } else {
        CHECK(m.data == NULL && m.numel == 0, "%s: output not cleared", file);
    }
    tg_idx_free(&m);
}

/* Bytes after the end of the gzip data are an error, as the same bytes
 * after a plain file are (the old reader, zlib's gzread, ignored them).
 * Several members are one stream (RFC 1952, gunzip): the tiny images
 * split into a header member, a data member and an empty member read as
 * one file. */
static void test_gzip_end(void) {
    expect_idx("plain_trailing.idx", TG_ERR_FORMAT, "8 trailing bytes");
    if (!zlib) {
        expect_idx("gz_trailing.idx.gz", TG_ERR_FORMAT, "without zlib");
        return;
    }
    expect_idx("tiny-images-idx3-ubyte.gz", TG_OK, "");
    expect_idx("gz_members.idx.gz", TG_OK, "");
    expect_idx("gz_trailing.idx.gz", TG_ERR_FORMAT,
               "8 bytes after the end of the gzip data (offset 42) are not a gzip member");
    expect_idx("gz_zeros.idx.gz", TG_ERR_FORMAT, "4 bytes after the end of the gzip data");
    expect_idx("gz_members_trailing.idx.gz", TG_ERR_FORMAT, "8 bytes after the end of the gzip data");
    expect_idx("gz_cut_member.idx.gz", TG_ERR_FORMAT, "truncated gzip data");
    expect_csv_error("gz_trailing.csv.gz", NULL, TG_ERR_FORMAT,
                     "gz_trailing.csv.gz: 4 bytes after the end of the gzip data");
    /* the MNIST pair through the same reader */
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_status s = tg_mnist_load("gz_trailing.idx.gz", "tiny-labels-idx1-ubyte.gz", &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "gz_trailing.idx.gz") && strstr(err, "not a gzip member"),
          "mnist_load with trailing garbage: %s", err);
    tg_dataset_free(&d);
}

int main(int argc, char **argv) {
    if ((argc > 1 && chdir(argv[1]) != 0) || !mkdtemp(tmpdir)) {
        perror(argc > 1 ? argv[1] : "mkdtemp");
        return 1;
    }
    test_bom();
    test_long_numbers();
    test_header_rule();
    test_locale();
    test_gzip_end();
    CHECK(rmdir(tmpdir) == 0, "%s holds files nobody wrote", tmpdir);
    return TEST_DONE("readers");
}
