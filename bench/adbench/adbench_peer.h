/* adbench_peer.h - the peers of the ADBench bench lines (peer.c):
 * PyTorch on GMM and LSTM (bench/adbench_torch.py, over a grid of
 * settings, alternating with tapegrad), ADOL-C on BA (ba_adolc.cpp, only
 * with -Dbench=true and libadolc-dev). */
#ifndef TG_ADBENCH_PEER_H
#define TG_ADBENCH_PEER_H

#include "adbench.h"
#include "../peer.h"

/* Process CPU time in seconds (CLOCK_PROCESS_CPUTIME_ID). */
double adb_cpu_now(void);

/* PyTorch's gradient time (seconds of CPU time, median) on problem kind
 * ("gmm" or "lstm") and input file path, at its best setting: torch threads
 * {1, 2} x OPENBLAS_NUM_THREADS {1, 2} x {glibc's default malloc, the tuned
 * one: MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=100000000000},
 * alternating with tapegrad's (bench/peer.h's bench_alternate): ADB_ROUNDS
 * rounds, each a block of ktg evaluations by tg(ctx, 0, ktg, t) and kpeer
 * of every PyTorch setting (adbench_torch.py --serve). Prints every
 * setting's time and the winners on stderr, prefixed by `what`; sets
 * *tg_best to tapegrad's median. -1 if no setting ran. */
enum { ADB_ROUNDS = 6 };
double adb_torch_alternate(const char *what, const char *kind, const char *input,
                           bench_tg_block tg, void *ctx, int ktg, int kpeer, double *tg_best);

/* ADOL-C's Jacobian time (seconds of CPU time, median) for every
 * observation of b, taping the same scalar code per observation; -1 when
 * built without ADOL-C or on a mismatch with tapegrad's values. */
double adb_adolc_ba_time(const adb_ba *b);

#endif
