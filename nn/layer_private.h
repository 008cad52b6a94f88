/* layer_private.h - the block every layer is made in, shared by
 * nn/module.c (activations, Linear, Sequential) and nn/layers.c (Dropout,
 * Conv2d, Embedding, LayerNorm, BatchNorm); not installed, not public. */
#ifndef TG_LAYER_PRIVATE_H
#define TG_LAYER_PRIVATE_H

#include "tapegrad.h"

/* A zeroed layer block of `size` bytes owned by ps, with its header
 * (forward function, ps, kind) set. NULL if ps is NULL (said on
 * tg_last_error) or out of memory (said in tg_params_error). */
void *tg__layer_alloc(tg_params *ps, size_t size, const char *kind,
                      tg_tensor *(*fwd)(tg_layer *, tg_tensor *));

#endif /* TG_LAYER_PRIVATE_H */
