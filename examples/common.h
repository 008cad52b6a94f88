/* common.h - small helpers shared by the examples (not part of the
 * library): command-line flags, a timer, a progress bar, a CSV loss log.
 * Everything is static so each example compiles it on its own. */
#ifndef TG_EXAMPLES_COMMON_H
#define TG_EXAMPLES_COMMON_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- flags */

typedef enum { EX_INT, EX_DOUBLE, EX_STRING, EX_BOOL } ex_flag_type;

typedef struct ex_flag {
    const char *name; /* "--epochs" */
    ex_flag_type type;
    void *ptr;        /* long *, double *, const char **, or int * (bool) */
    const char *help;
} ex_flag;

/* Prints "usage: PROG [flags]", the about text, then one line per flag with
 * its help and its default ("off" for a bool flag), to stdout. */
static inline void ex_usage(const char *prog, const char *about, const ex_flag *flags, int n) {
    printf("usage: %s [flags]\n%s\n\nflags:\n", prog, about);
    for (int i = 0; i < n; i++) {
        const ex_flag *f = &flags[i];
        char def[64] = "off";
        if (f->type == EX_INT) snprintf(def, sizeof def, "%ld", *(long *)f->ptr);
        else if (f->type == EX_DOUBLE) snprintf(def, sizeof def, "%g", *(double *)f->ptr);
        else if (f->type == EX_STRING)
            snprintf(def, sizeof def, "%s", *(const char **)f->ptr ? *(const char **)f->ptr : "none");
        else if (*(int *)f->ptr) snprintf(def, sizeof def, "on");
        printf("  %-14s %s (default: %s)\n", f->name, f->help, def);
    }
    printf("  %-14s print this help and exit\n", "--help, -h");
}

/* Parses "--name value" (or "--name=value"; a bool flag takes no value).
 * Makes stdout line-buffered first (call it before any output). On --help
 * or -h, prints the usage to stdout and exits 0; on an unknown
 * flag, a missing value, a value that is not a whole number (EX_INT) or a
 * finite number (EX_DOUBLE), or a value on a bool flag, prints why to
 * stderr and exits 2 (this is a program, not the library). Arguments that
 * do not start with "--" are positional: up to maxpos of them are stored in
 * pos[] in order and their count returned; pos == NULL (or more than
 * maxpos) makes them bad arguments too. */
static inline int ex_parse_pos(int argc, char **argv, const char *about, const ex_flag *flags,
                               int n, char **pos, int maxpos) {
    int npos = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress reaches a log or a pipe line by line */
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            ex_usage(argv[0], about, flags, n);
            exit(0);
        }
    }
    for (int a = 1; a < argc; a++) {
        if (strncmp(argv[a], "--", 2)) {
            if (!pos || npos >= maxpos) {
                fprintf(stderr, "%s: unexpected argument \"%s\" (try --help)\n", argv[0], argv[a]);
                exit(2);
            }
            pos[npos++] = argv[a];
            continue;
        }
        const char *eq = strchr(argv[a], '=');
        size_t len = eq ? (size_t)(eq - argv[a]) : strlen(argv[a]);
        const ex_flag *f = NULL;
        for (int i = 0; i < n && !f; i++)
            if (strlen(flags[i].name) == len && !strncmp(flags[i].name, argv[a], len)) f = &flags[i];
        if (!f) {
            fprintf(stderr, "%s: unknown flag %s (try --help)\n", argv[0], argv[a]);
            exit(2);
        }
        if (f->type == EX_BOOL) {
            if (eq) {
                fprintf(stderr, "%s: %s takes no value\n", argv[0], f->name);
                exit(2);
            }
            *(int *)f->ptr = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        char *end = NULL;
        if (!v) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], f->name);
            exit(2);
        }
        errno = 0;
        if (f->type == EX_INT) *(long *)f->ptr = strtol(v, &end, 10);
        else if (f->type == EX_DOUBLE) *(double *)f->ptr = strtod(v, &end);
        else *(const char **)f->ptr = v;
        if (end && (*end || end == v || errno == ERANGE ||
                    (f->type == EX_DOUBLE && !isfinite(*(double *)f->ptr)))) {
            fprintf(stderr, "%s: %s: \"%s\" is not a %s\n", argv[0], f->name, v,
                    f->type == EX_INT ? "whole number" : "finite number");
            exit(2);
        }
    }
    return npos;
}

/* ex_parse_pos without positional arguments. */
static inline void ex_parse(int argc, char **argv, const char *about, const ex_flag *flags, int n) {
    ex_parse_pos(argc, argv, about, flags, n, NULL, 0);
}

/* A flag's value out of its range: unless ok, prints "PROG: FLAG must be
 * WHAT (got VALUE)" and exits 2, as ex_parse does for a malformed value. */
static inline void ex_require(int ok, const char *prog, const char *flag, const char *what,
                              double got) {
    if (ok) return;
    fprintf(stderr, "%s: %s must be %s (got %g)\n", prog, flag, what, got);
    exit(2);
}

/* The ranges of the flags every training example has. */
static inline void ex_require_training(const char *prog, long epochs, long batch, double lr) {
    ex_require(epochs >= 1, prog, "--epochs", "at least 1", (double)epochs);
    ex_require(batch >= 1, prog, "--batch", "at least 1", (double)batch);
    ex_require(lr > 0, prog, "--lr", "positive", lr);
}

/* ex_parse over a whole array of flags. */
#define EX_PARSE(argc, argv, about, flags) \
    ex_parse(argc, argv, about, flags, (int)(sizeof flags / sizeof flags[0]))

/* ---------------------------------------------------------------- timer */

static inline double ex_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --------------------------------------------------------- progress bar */

/* One line per epoch that redraws in place on a terminal:
 *   epoch 1/5 [##########----------]  469/938  loss 0.5123  41234 samples/s  3s elapsed, 27s left
 * When stdout is not a terminal (a log file, a pipe, meson test), a plain
 * line after the first batch and at each tenth of the epoch instead:
 *   epoch 1/5  batch 469/938  loss 0.5123  41234 samples/s  3.1 s elapsed, 27.4 s left
 * Every line is flushed as it is written (ex_parse makes stdout line-
 * buffered). "elapsed" counts from run_start (ex_now() when training
 * began); "left" is the time per batch so far times the batches left in
 * the whole run (epochs of `total` batches each). */
typedef struct ex_progress {
    long epoch, epochs, total, done;
    double start, run_start, last_draw;
    int tty, last_tenth;
} ex_progress;

static inline void ex_progress_start(ex_progress *p, long epoch, long epochs, long total,
                                     double run_start) {
    memset(p, 0, sizeof *p);
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->start = ex_now();
    p->run_start = run_start;
    p->tty = isatty(fileno(stdout));
    p->last_tenth = -1;
}

static inline void ex_progress_draw(ex_progress *p, long done, double loss, long samples) {
    double now = ex_now();
    p->done = done;
    double rate = samples / (now - p->start > 1e-9 ? now - p->start : 1e-9);
    double elapsed = now - p->run_start;
    double done_all = (double)((p->epoch - 1) * p->total + done);
    double left = done_all > 0 ? elapsed / done_all * ((double)(p->epochs * p->total) - done_all) : 0;
    if (p->tty) {
        if (done < p->total && now - p->last_draw < 0.05) return; /* 20 redraws a second */
        p->last_draw = now;
        char bar[21];
        int fill = p->total ? (int)(20 * done / p->total) : 20;
        for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '-';
        bar[20] = 0;
        printf("\repoch %ld/%ld [%s] %5ld/%ld  loss %.4f  %6.0f samples/s  %.0fs elapsed, %.0fs left ",
               p->epoch, p->epochs, bar, done, p->total, loss, rate, elapsed, left);
        if (done >= p->total) printf("\n");
        fflush(stdout);
    } else {
        int tenth = p->total ? (int)(10 * done / p->total) : 10;
        if (tenth == p->last_tenth) return;
        p->last_tenth = tenth;
        printf("epoch %ld/%ld  batch %ld/%ld  loss %.4f  %.0f samples/s  %.1f s elapsed, %.1f s left\n",
               p->epoch, p->epochs, done, p->total, loss, rate, elapsed, left);
        fflush(stdout);
    }
}

/* ---------------------------------------------------------- CSV loss log */

/* Opens path for a "step,epoch,loss" log (NULL path: no log). Exits if it
 * cannot be created. */
static inline FILE *ex_csv_open(const char *path) {
    if (!path) return NULL;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "step,epoch,loss\n");
    return f;
}

static inline void ex_csv_row(FILE *f, long step, long epoch, double loss) {
    if (f) fprintf(f, "%ld,%ld,%.6g\n", step, epoch, loss);
}

/* --------------------------------------------------- did the loss fall? */

/* Prints the machine-readable lines the tests read and returns the exit
 * status: 0 when the loss fell, 1 when it did not. */
static inline int ex_loss_report(double first, double last) {
    printf("loss_first: %.6f\nloss_last: %.6f\n", first, last);
    if (!(last < first)) {
        fprintf(stderr, "the loss did not fall (%.6f -> %.6f)\n", first, last);
        return 1;
    }
    return 0;
}

#endif
