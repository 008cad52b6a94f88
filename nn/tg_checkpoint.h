/* tg_checkpoint.h - (being written) */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H
#include "tg_autograd.h"
#include "tg_ops.h"
#endif
