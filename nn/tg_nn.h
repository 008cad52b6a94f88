/* tg_nn.h - the nn layer: parameters, layers, MLP, losses, initializers,
 * optimizers, schedules, checkpoints, data. Built on the public autograd
 * and ops API alone.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 */
#ifndef TG_NN_H
#define TG_NN_H

#include "tg_autograd.h"
#include "tg_ops.h"

#include "tg_module.h"     /* parameter lists, layers, MLP, init  (nn/module.c, nn/layers.c, nn/init.c) */
#include "tg_optim.h"      /* optimizers, clipping, schedules     (nn/optim.c, nn/lbfgs.c, nn/sched.c) */
#include "tg_loss.h"       /* losses                              (nn/loss.c) */
#include "tg_checkpoint.h" /* safetensors save / load             (nn/checkpoint.c) */
#include "tg_data.h"       /* IDX / CSV readers, batching         (nn/data.c) */
#include "tg_dist.h"       /* many processes over MPI             (nn/dist*.c) */

#endif
