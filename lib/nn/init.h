/* init — a network's initial weights by one of three schemes, each the
 * layer defaults of a framework, so that cxr starts where the framework's
 * users start:
 *
 *   torchvision  torchvision's ResNet: convolutions kaiming normal with
 *                fan_out and ReLU's gain, N(0, 2/fan_out); dense layers
 *                as nn.Linear (below); BN gamma 1, beta 0.
 *   keras        Keras's layer defaults: convolution and dense kernels
 *                glorot uniform, U(+-sqrt(6/(fan_in+fan_out))), biases 0,
 *                BN gamma 1, beta 0.
 *   torch        PyTorch's layer defaults, nn.Conv2d's and nn.Linear's
 *                reset_parameters: weights kaiming uniform with
 *                a = sqrt(5), which is U(+-1/sqrt(fan_in)); biases
 *                U(+-1/sqrt(fan_in)) with the fan_in of their weight;
 *                BN gamma 1, beta 0.
 *
 * fan_in of a convolution (O,C,KH,KW) is C*KH*KW and fan_out O*KH*KW (as
 * both frameworks count); of a dense layer (out,in) in and out. Every
 * scheme sets BN running means to 0 and variances to 1, zeroes the
 * convolution biases of a network that has them (torch excepted), and
 * seeds the dropout generator.
 *
 * Every tensor is set by its kind (cxr_resnet_tensor.kind), in
 * state_dict order, so a tensor an architecture adds is covered by its
 * kind; one of a kind this module does not know is a programming error
 * (abort). The numbers come from one generator seeded with seed, drawn
 * tensor by tensor in the engine's layout: torchvision's draws are those
 * cxr has always made (the same bits for the same seed). The schemes
 * match the frameworks' formulas, not their generators. */
#ifndef CXR_INIT_H
#define CXR_INIT_H
#include <stdint.h>

#include "nn/resnet.h"

enum cxr_init_scheme { CXR_INIT_TORCHVISION, CXR_INIT_KERAS, CXR_INIT_TORCH };

/* "torchvision", "keras", "torch"; "?" for another number. */
const char *cxr_init_name(int scheme);
/* The enum cxr_init_scheme of a name, or -1. */
int cxr_init_parse(const char *name);

/* One tensor's distribution under a scheme. */
enum cxr_init_dist { CXR_DIST_CONST, CXR_DIST_UNIFORM, CXR_DIST_NORMAL };
typedef struct cxr_init_spec {
	int dist;     /* enum cxr_init_dist */
	double value; /* CONST: every element; UNIFORM: the bound b of U(-b,b);
		       * NORMAL: the standard deviation (mean 0) */
	double fan_in, fan_out; /* of the weight (a bias: of its weight) */
} cxr_init_spec;

/* The distribution of tensor i of net under scheme, the numbers computed
 * in double precision as the framework computes them. */
void cxr_init_spec_of(const cxr_resnet *net, int i, int scheme, cxr_init_spec *s);

/* Sets every tensor of net (parameters and BN buffers) by scheme from
 * seed, seeds the dropout generator, and tells the net its parameters
 * changed. */
void cxr_resnet_init_scheme(cxr_resnet *net, int scheme, uint64_t seed);

#endif
