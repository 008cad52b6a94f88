/* tg_data.h - (being written) */
#ifndef TG_DATA_H
#define TG_DATA_H
#include "tg_autograd.h"
#include "tg_ops.h"
#endif
