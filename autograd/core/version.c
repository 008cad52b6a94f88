/* version.c - tg_version(): the version this library was built as. */
#include "tg_version.h"

const char *tg_version(void) { return TG_VERSION_STRING; }
