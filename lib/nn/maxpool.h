/* maxpool — max pooling on NHWC activations: the stem's 3x3 stride-2 pad-1
 * window and the head's global max. Ties go to the first maximum in
 * row-major window order (padding never wins), as PyTorch's MaxPool2d
 * and AdaptiveMaxPool2d; backward sends each output's gradient there. */
#ifndef CXR_MAXPOOL_H
#define CXR_MAXPOOL_H
#include <stdint.h>

/* Output size of a k-window, stride s, padding p pool on n inputs. */
int pool_out_size(int n, int k, int s, int p);

/* out (N,OH,OW,C) = windowed max of in (N,H,W,C); idx (N,OH,OW,C), the
 * winner's position iy*W+ix in its image, or NULL when no backward follows. */
void maxpool_forward(float *out, int32_t *idx, const float *in, int n, int h, int w, int c,
		     int k, int s, int p);
/* maxpool_forward with out in bf16 (activations kept in bf16; needs
 * cxr_cpu_has_bf16()): the max rounded, which is the max of the rounded
 * inputs (rounding keeps order); idx (or NULL) as there. */
void maxpool_forward_bf16(uint16_t *out, int32_t *idx, const float *in, int n, int h, int w,
			  int c, int k, int s, int p);
/* din (N,H,W,C) += dout (N,OH,OW,C) routed by idx (N,OH,OW,C). */
void maxpool_backward(float *din, const float *dout, const int32_t *idx, int n, int h, int w,
		      int c, int oh, int ow);
/* maxpool_backward from a dout held in bf16 (training in bf16 keeps the
 * blocks' gradients so): the sums in fp32, as there. */
void maxpool_backward_bf16(float *din, const uint16_t *dout, const int32_t *idx, int n, int h,
			   int w, int c, int oh, int ow);

/* out (N,C) = max over the hw positions of in (N,HW,C); idx (N,C) the
 * first maximum's position, or NULL. */
void gmaxpool_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c);
/* gmaxpool_forward from bf16 in (N,HW,C). */
void gmaxpool_forward_bf16(float *out, int32_t *idx, const uint16_t *in, int n, int hw, int c);
/* din (N,HW,C) += dout (N,C) at idx (N,C). */
void gmaxpool_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c);
/* The same into a din held in bf16: each element it adds to rounded once. */
void gmaxpool_backward_bf16(uint16_t *din, const float *dout, const int32_t *idx, int n, int hw,
			    int c);

#endif
