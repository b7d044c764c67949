/* activation — the element-wise layers: ReLU, dropout, and the loss
 * (mean binary cross-entropy on logits). */
#ifndef CXR_ACTIVATION_H
#define CXR_ACTIVATION_H
#include <stddef.h>

#include "base/rng.h"

/* out (n) = max(in, 0); out may equal in. */
void relu_forward(float *out, const float *in, size_t n);
/* din (n) += dout where the forward's output out (n) is positive, else
 * 0 (acc 1); with acc 0, din = that. */
void relu_backward(float *din, const float *dout, const float *out, size_t n, int acc);

/* mask (n): 0 with probability p, else 1/(1-p) (inverted dropout, as
 * PyTorch), drawn from rng in order. */
void dropout_mask(float *mask, size_t n, float p, cxr_rng *rng);
/* out (n) = in * mask; out may equal in. */
void dropout_forward(float *out, const float *in, const float *mask, size_t n);
/* din (n) += dout * mask */
void dropout_backward(float *din, const float *dout, const float *mask, size_t n);

/* Mean binary cross-entropy of logits (n) against targets (n) in [0,1],
 * computed stably as max(z,0) - z*t + log1p(exp(-|z|)); dlogits (n) is
 * set (not added) to its gradient (sigmoid(z) - t) / n when not NULL. */
double bce_logits(float *dlogits, const float *logits, const float *targets, int n);

#endif
