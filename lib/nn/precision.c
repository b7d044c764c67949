/* precision — names, the CPU check and bf16 rounding (see precision.h). */
#include "nn/precision.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

const char *cxr_precision_name(cxr_precision p)
{
	return p == CXR_PREC_BF16 ? "bf16" : "fp32";
}

int cxr_precision_parse(const char *s)
{
	if (!strcmp(s, "fp32"))
		return CXR_PREC_FP32;
	if (!strcmp(s, "bf16"))
		return CXR_PREC_BF16;
	return -1;
}

int cxr_cpu_has_bf16(void)
{
	static int has = -1;
	if (has < 0) {
		/* CXR_NO_BF16=1 makes a bf16 CPU look like one without, so the
		 * refusal path is tested everywhere. */
		const char *off = getenv("CXR_NO_BF16");
		__builtin_cpu_init();
		has = !(off && *off && strcmp(off, "0")) && __builtin_cpu_supports("avx512f") &&
		      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
	}
	return has;
}

int cxr_precision_available(cxr_precision p)
{
	if (p == CXR_PREC_BF16 && !cxr_cpu_has_bf16()) {
		cxr_seterr("bf16 needs a CPU with AVX512_BF16, which this one lacks; use fp32");
		return 0;
	}
	return 1;
}

cxr_precision cxr_precision_option(const char *arg)
{
	int p = cxr_precision_parse(arg);
	if (p < 0)
		cxr_usage_error("--precision: '%s' is not fp32 or bf16", arg);
	if (!cxr_precision_available((cxr_precision)p))
		cxr_usage_error("--precision %s: %s", arg, cxr_errmsg());
	return (cxr_precision)p;
}

cxr_precision cxr_precision_default(void)
{
	return cxr_cpu_has_bf16() ? CXR_PREC_BF16 : CXR_PREC_FP32;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void
cxr_bf16_round_n(uint16_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
		_mm256_mask_storeu_epi16(dst + i, m, h);
	}
}
