/* xor.c - a 2-4-1 network learns XOR, the classic problem that no single
 * linear layer can solve.
 *
 *     x1 x2 | x1 XOR x2
 *      0  0 |    0
 *      0  1 |    1
 *      1  0 |    1
 *      1  1 |    0
 *
 * The model: Linear(2, 4) -> tanh -> Linear(4, 1), whose output is a logit
 * (a score; sigmoid(logit) is the probability of class 1). The loss is
 * binary cross entropy on the logits. Adam updates the 17 parameters from
 * their gradients; each step is one full pass over the four examples.
 *
 * The training loop is the pattern of every example here:
 *     forward (records the tape) -> loss -> tg_backward -> optimizer step
 *     -> tg_tape_reset (frees the pass in O(1), keeps the memory)
 *
 * Build and run: ninja -C build && ./build/examples/xor [--epochs 500]
 * Prints the loss every --every epochs, then the predictions; exits 1 if
 * the loss did not fall or an example is misclassified.
 */
#include <tapegrad.h>

#include <stdio.h>

#include "common.h"

int main(int argc, char **argv) {
    long epochs = 500, every = 50, seed = 1;
    double lr = 0.05;
    const ex_flag flags[] = {
        {"--epochs", EX_INT, &epochs, "full passes over the four examples"},
        {"--lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"--every", EX_INT, &every, "print the loss every N epochs"},
        {"--seed", EX_INT, &seed, "seed of the initial weights"},
    };
    EX_PARSE(argc, argv, "A 2-4-1 MLP learns XOR.", flags);
    ex_require(epochs >= 1, argv[0], "--epochs", "at least 1", (double)epochs);
    ex_require(lr > 0, argv[0], "--lr", "positive", (double)lr);
    ex_require(every >= 1, argv[0], "--every", "at least 1", (double)every);

    /* The data: four inputs and their labels, as plain arrays. */
    const float X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const float Y[4][1] = {{0}, {1}, {1}, {0}};

    /* The model: its parameters live in `ps`, outside any tape. */
    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){2, 4, 1}, 3, TG_ACT_TANH, TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, lr, NULL);
    if (!net || !opt) {
        fprintf(stderr, "model: %s\n", tg_params_error(ps));
        return 1;
    }
    printf("model: 2-4-1 MLP, tanh, %lld parameters; Adam, lr %g\n\n",
           (long long)tg_params_numel(ps), lr);

    tg_tape *tape = tg_tape_new();
    double first = 0, last = 0;
    for (long epoch = 1; epoch <= epochs; epoch++) {
        tg_tensor *x = tg_tensor_new(tape, TG_F32, TG_SHAPE(4, 2), X);
        tg_tensor *y = tg_tensor_new(tape, TG_F32, TG_SHAPE(4, 1), Y);
        tg_tensor *logits = tg_sequential_forward(net, x);                     /* [4, 1] */
        tg_tensor *loss = tg_bce_with_logits_loss(logits, y, NULL, TG_REDUCE_MEAN);
        tg_optim_zero_grad(opt);
        tg_backward(loss);
        if (!tg_tape_ok(tape)) { /* one check covers every op of the pass */
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            return 1;
        }
        tg_optim_step(opt);
        last = tg_item(loss);
        if (epoch == 1) first = last;
        if (epoch == 1 || epoch % every == 0) printf("epoch %4ld  loss %.6f\n", epoch, last);
        tg_tape_reset(tape);
    }

    /* Predictions, without recording (nothing to differentiate). */
    tg_tape_set_grad_enabled(tape, false);
    tg_tensor *p = tg_sigmoid(tg_sequential_forward(net, tg_tensor_new(tape, TG_F32, TG_SHAPE(4, 2), X)));
    int correct = 0;
    printf("\n x1 x2 | target | p(1)   | predicted\n");
    for (int i = 0; i < 4; i++) {
        double pi = tg_tensor_get(p, i);
        int pred = pi > 0.5;
        correct += pred == (int)Y[i][0];
        printf("  %.0f  %.0f |   %.0f    | %.4f |   %d\n", X[i][0], X[i][1], Y[i][0], pi, pred);
    }
    printf("\naccuracy: %d/4\n", correct);
    int bad = ex_loss_report(first, last) || correct != 4;

    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_params_free(ps);
    return bad;
}
