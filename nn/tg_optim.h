/* tg_optim.h - (being written) */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H
#include "tg_autograd.h"
#include "tg_ops.h"
#endif
