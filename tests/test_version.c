/* test_version.c - the version: the header's macros, the library's
 * tg_version(), and meson.build's project() version (argv[1]) agree.
 */
#include "tg_test.h"

int main(int argc, char **argv) {
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", TG_VERSION_MAJOR, TG_VERSION_MINOR, TG_VERSION_PATCH);
    CHECK(strcmp(s, TG_VERSION_STRING) == 0, "TG_VERSION_* give %s, TG_VERSION_STRING is %s", s,
          TG_VERSION_STRING);
    CHECK(TG_VERSION_NUMBER == TG_VERSION_MAJOR * 10000 + TG_VERSION_MINOR * 100 +
                                   TG_VERSION_PATCH,
          "TG_VERSION_NUMBER %d", TG_VERSION_NUMBER);
    const char *lib = tg_version();
    CHECK(lib && strcmp(lib, TG_VERSION_STRING) == 0, "tg_version() = %s, header %s",
          lib ? lib : "(null)", TG_VERSION_STRING);
    CHECK(argc > 1 && strcmp(argv[1], TG_VERSION_STRING) == 0,
          "meson.build's version %s, header %s", argc > 1 ? argv[1] : "(none)",
          TG_VERSION_STRING);
    return TEST_DONE("version");
}
