/* optim_private.h - the optimizer record, shared by nn/optim.c and
 * nn/lbfgs.c only (not installed, not public). */
#ifndef TG_OPTIM_PRIVATE_H
#define TG_OPTIM_PRIVATE_H

#include "errbuf.h"

enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_ADAGRAD, OPT_LBFGS };
#define OPT_SLOTS 3

struct tg_optim {
    int kind;
    const char *name;               /* "adam": the prefix of state names */
    const char *slot[OPT_SLOTS];    /* state slot names; NULL = unused */
    tg_params *ps;
    double lr;
    union {
        tg_sgd_opts sgd;
        tg_adam_opts adam;
        tg_rmsprop_opts rms;
        tg_adagrad_opts ada;
        tg_lbfgs_opts lbfgs;
    } o;
    /* state, made on first use */
    tg_params *state;
    int np;              /* trainable tensors covered */
    tg_tensor **p;       /* [np] the parameters */
    tg_tensor **s;       /* [np * OPT_SLOTS] their state (NULL for unused slots) */
    double *step;        /* the 0-d "<name>.step" tensor's value */
    void *lb;            /* L-BFGS buffers (nn/lbfgs.c) */
};

/* Makes the state on first use; TG_OK, TG_ERR_NOMEM or TG_ERR_STATE. */
tg_status tg__optim_prepare(tg_optim *opt);
void tg__lbfgs_free(void *lb);

#endif
