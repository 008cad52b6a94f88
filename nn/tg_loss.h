/* tg_loss.h - (being written) */
#ifndef TG_LOSS_H
#define TG_LOSS_H
#include "tg_autograd.h"
#include "tg_ops.h"
#endif
