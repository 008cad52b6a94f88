/* tg_module.h - (being written) */
#ifndef TG_MODULE_H
#define TG_MODULE_H
#include "tg_autograd.h"
#include "tg_ops.h"
#endif
