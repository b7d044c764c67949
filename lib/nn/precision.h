/* precision — the arithmetic a network runs in: fp32, or bf16 products
 * with fp32 sums (what PyTorch's CPU autocast to bfloat16 does for
 * convolutions and linear layers).
 *
 * bf16 keeps fp32's 8-bit exponent and 8 bits of significand (7 stored):
 * a value rounded to it (to nearest, ties to even) is within a relative
 * 2^-8 of the fp32 one. Only the operands of products are rounded; every
 * sum, the master weights, the optimizer state, batch-norm statistics and
 * losses stay fp32. It needs a CPU with AVX512_BF16 (vdpbf16ps); on any
 * other CPU asking for it is an error, never an illegal instruction. */
#ifndef CXR_PRECISION_H
#define CXR_PRECISION_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum cxr_precision { CXR_PREC_FP32 = 0, CXR_PREC_BF16 = 1 } cxr_precision;

/* "fp32" or "bf16". */
const char *cxr_precision_name(cxr_precision p);
/* The precision named s; -1 if s names none. */
int cxr_precision_parse(const char *s);
/* 1 if this CPU runs bf16 products (AVX-512 F, BW and BF16). */
int cxr_cpu_has_bf16(void);
/* 1 if p runs here; 0 with cxr_errmsg() set to a sentence saying why not. */
int cxr_precision_available(cxr_precision p);

/* The precision a --precision argument names, checked against this CPU:
 * a usage error (exit 2) that says why if it is unknown or cannot run. */
cxr_precision cxr_precision_option(const char *arg);
/* The tools' default: bf16 where the CPU runs it, else fp32. */
cxr_precision cxr_precision_default(void);

/* x rounded to bf16 (nearest, ties to even; subnormals to zero and NaN
 * kept quiet, as vcvtneps2bf16 does), as the upper half of an fp32.
 * Inline and branch-free: loops that store bf16 vectorise. */
static inline uint16_t cxr_bf16_round(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	uint32_t r = (u & 0x7f800000u) == 0	    ? u & 0x80000000u
		     : (u & 0x7fffffffu) > 0x7f800000u ? u | 0x00400000u
						      : u + 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(r >> 16);
}
/* dst[i] = cxr_bf16_round(src[i]) for i < n, 16 at a time by
 * vcvtneps2bf16: needs cxr_cpu_has_bf16(). */
void cxr_bf16_round_n(uint16_t *dst, const float *src, size_t n);
/* The float a bf16 value stands for (inline: loops over arrays of them
 * vectorise). */
static inline float cxr_bf16_float(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

#endif
