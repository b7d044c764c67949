/* wino — 3x3, stride 1, pad 1 convolutions by Winograd F(4x4,3x3), and
 * stride-2 ones (forward only) by an F(4x4) of their own (cxr_wino2_*).
 *
 * Activations are channels-last: x (N,H,W,C), y (N,H,W,K), any H, W >= 1.
 * The output is cut into 4x4 tiles, each needing a 6x6 input patch; in the
 * transformed domain a convolution becomes 36 independent matrix products
 * (tiles x C) * (C x K): 2.25 multiplies per output and channel pair
 * instead of 9. The interpolation points are 0, +-1, +-2 and infinity
 * (Lavin and Gray 2016). Against a float64 direct convolution, with
 * post-ReLU activations and He-initialised weights, the normwise relative
 * error |a-b|/|b| is 1.4-1.9e-6 for the forward and the data gradient and
 * 0.8-1.5e-6 for the weight gradient on every shape of ResNet-50 (C = 64
 * to 512; a direct fp32 convolution: ~4e-8); tests/check_wino.c bounds
 * all at 1e-5.
 *
 * Work runs on omp_get_max_threads() OpenMP threads (at most
 * omp_get_num_procs(), which the workspace is sized for); the matrix
 * products are this module's own AVX-512 / AVX2+FMA / SSE2 kernels,
 * chosen at run time, so OpenBLAS is not called.
 *
 * Sizes are in floats. Buffers need no particular alignment (64 bytes
 * helps). Calls may run concurrently on different workspaces. Results
 * depend on the thread count and the instruction set only through the
 * order of floating-point sums: deterministic for a fixed -j and CPU. */
#ifndef CXR_WINO_H
#define CXR_WINO_H
#include <stddef.h>

/* Floats of a transformed weight set for C input and K output channels. */
size_t cxr_wino_weights_size(int C, int K);

/* U (cxr_wino_weights_size(C, K)) = transform of w (K,C,3,3), the PyTorch
 * layout. Done once per weight update. */
void cxr_wino_transform_weights(float *U, const float *w, int C, int K);

/* U (cxr_wino_weights_size(K, C)) = transform of the data-gradient
 * weights: w (K,C,3,3) rotated by 180 degrees with C and K swapped. Then
 *   cxr_wino_forward(dx, dy, U, N, H, W, K, C, ws, accumulate)
 * sets (or, with accumulate, adds to) dx (N,H,W,C) the gradient of the
 * loss w.r.t. the input x of y = conv(x, w), given dy (N,H,W,K). */
void cxr_wino_transform_weights_backward(float *U, const float *w, int C, int K);

/* Floats of workspace for cxr_wino_forward with (C, K) or (K, C) and for
 * cxr_wino_backward_weights with (C, K): one size serves all three calls
 * of a layer. */
size_t cxr_wino_workspace_size(int N, int H, int W, int C, int K);

/* y (N,H,W,K) = conv3x3(x (N,H,W,C)), stride 1, pad 1, no bias; with
 * accumulate, y += conv3x3(x). U from cxr_wino_transform_weights(.., C, K).
 * ws: cxr_wino_workspace_size(N, H, W, C, K) floats. x and y must not
 * overlap. */
void cxr_wino_forward(float *y, const float *x, const float *U, int N, int H, int W,
		      int C, int K, float *ws, int accumulate);

/* cxr_wino_forward for inference: x and y each fp32 or, where x_bf16 /
 * y_bf16 say, bf16 (uint16_t, the upper half of an fp32: activations
 * kept in bf16 between layers; the transforms and products stay fp32),
 * and as y is stored, [its old value added,] bias (K floats; NULL: none)
 * added and, with relu, what is not positive set to 0, in that order (a
 * bf16 y rounded once, after them: to nearest even, as precision.h).
 * With fp32 x and y the same bits as cxr_wino_forward followed by
 * conv_bias_relu. Runs on every instruction set wino.h uses. stats (NULL:
 * none; fp32 y only): each thread (of omp_get_max_threads() at most) adds
 * each channel's sum and sum of squares of the values it stores at
 * stats[t*2K + k] and stats[t*2K + K + k], as cxr_gemm_prepacked_stats
 * lays them out (batch norm's statistics without another pass over y). */
void cxr_wino_forward_act(void *y, int y_bf16, const void *x, int x_bf16, const float *U, int N,
			  int H, int W, int C, int K, float *ws, int accumulate, const float *bias,
			  int relu, double *stats);

/* dw (K,C,3,3) += dL/dw of y = conv3x3(x, w), given x (N,H,W,C) and
 * dy (N,H,W,K); dw is in the PyTorch layout and is added to, never
 * overwritten. ws: cxr_wino_workspace_size(N, H, W, C, K) floats. */
void cxr_wino_backward_weights(float *dw, const float *x, const float *dy, int N, int H,
			       int W, int C, int K, float *ws);

/* Stride 2 (pad 1), forward only: y (N,(H+1)/2,(W+1)/2,K) from
 * x (N,H,W,C). Each output row and column is an odd-phase 2-tap
 * correlation (Winograd F(4,2): points 0, +-1, 2 and infinity) plus an
 * even-phase 1-tap product, so a 4x4 output tile takes a 9x9 input
 * patch and 81 matrix products (tiles x C) * (C x K): 5.06 multiplies per
 * output and channel pair instead of im2col's 9. Against a float64
 * direct convolution the normwise relative error is of the order of the
 * stride-1 forward's (tests/check_wino.c bounds it at 1e-5).
 * cxr_wino2_weights_size, cxr_wino2_transform_weights (w (K,C,3,3)) and
 * cxr_wino2_workspace_size (N, H, W of x) as their stride-1 namesakes;
 * cxr_wino2_forward_act as cxr_wino_forward_act, H and W being x's. */
size_t cxr_wino2_weights_size(int C, int K);
void cxr_wino2_transform_weights(float *U, const float *w, int C, int K);
size_t cxr_wino2_workspace_size(int N, int H, int W, int C, int K);
void cxr_wino2_forward_act(void *y, int y_bf16, const void *x, int x_bf16, const float *U, int N,
			   int H, int W, int C, int K, float *ws, int accumulate, const float *bias,
			   int relu, double *stats);

/* The instruction set in use: "avx512", "avx2" or "sse2". Tests and
 * benchmarks may force a lower one with cxr_wino_set_isa(name) (returns
 * -1 if the CPU lacks it or the name is unknown; NULL restores the best). */
const char *cxr_wino_isa(void);
int cxr_wino_set_isa(const char *name);

/* For tests and benchmarks: force the tiles per block (rounded up to a
 * multiple of 12), the forward's output-channel slices, and the weight
 * gradient's sharing among threads (1: input channels, 2: blocks of
 * tiles); 0 leaves a choice to the built-in cost model. Workspace sizes
 * follow the forced choices: call this before cxr_wino_workspace_size. */
void cxr_wino_tune(int tiles, int slices, int wgrad_mode);

#endif
