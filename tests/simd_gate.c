/* simd_gate.c - runs a test program at the SIMD level that TG_SIMD names,
 * or skips it (77) where this CPU or build lacks that level: the
 * <test>_<level> runs of tests/meson.build for programs that do not check
 * the level themselves (the tests of the ops with SIMD row kernels).
 *
 * usage: simd_gate <program> [arguments...] */
#include "tg_test.h"

#include <unistd.h>

int main(int argc, char **argv) {
    (void)tg_test_pass, (void)tg_test_fail; /* no checks here, only the skip */
    if (argc < 2) {
        fprintf(stderr, "usage: %s program [arguments...]\n", argv[0]);
        return 2;
    }
    const char *slash = strrchr(argv[1], '/');
    SKIP_UNLESS_SIMD(slash ? slash + 1 : argv[1]);
    execv(argv[1], argv + 1);
    perror(argv[1]);
    return 2;
}
