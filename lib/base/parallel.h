/* parallel — one thread count, one pool of threads: OpenMP runs the
 * element-wise passes (batch norm, ReLU, pooling, im2col), cxr's own
 * matrix kernels and, where OpenBLAS runs the products (CXR_GEMM=blas, a
 * CPU without AVX2), OpenBLAS on each of its threads, every one a block
 * of the product (nn/gemm.c, gemm_blas). OpenBLAS itself gets one thread:
 * its own pthreads, woken for each product and spinning, yielding, for
 * 2^28 cycles after it, took the cores from the OpenMP threads of the
 * passes between the products (on a 2-core AMD EPYC without AVX-512, fp32
 * training, scoring and the demo ran 15% to 40% slower that way). Products
 * are called from the main thread only, outside any OpenMP region. */
#ifndef CXR_PARALLEL_H
#define CXR_PARALLEL_H
#include <stddef.h>

/* Hot element-wise loops are compiled for AVX-512, AVX2+FMA and baseline
 * x86-64, and the best the CPU runs is picked when the program starts (the
 * binaries themselves target any x86-64). Put it on a function whose inner
 * loops carry "#pragma omp simd". */
#define CXR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* Rows [*i0, *i1) of m for thread t of nt: contiguous blocks in order. */
static inline void cxr_par_range(size_t m, int t, int nt, size_t *i0, size_t *i1)
{
	*i0 = m * t / nt;
	*i1 = m * (t + 1) / nt;
}

/* Sets OpenMP's threads to n (n < 1: all cores), OpenBLAS's to one. */
void cxr_par_set_threads(int n);
int cxr_par_threads(void);
/* OpenBLAS 0.3.21 (Debian 12) does not know AMD Zen 4/5 and runs its
 * Haswell (AVX2) kernels there at a third of the speed of its SkylakeX
 * (AVX-512) kernels, which these CPUs execute correctly. The kernel set
 * is chosen from OPENBLAS_CORETYPE when the library loads, before main,
 * so the only way to pick it is to set the variable and re-execute the
 * program: call this first thing in main. It does nothing when the
 * variable is already set, when OpenBLAS already chose an AVX-512 set,
 * or when the CPU lacks AVX-512 (F, CD, BW, DQ, VL); if the re-exec fails
 * the program goes on with the kernels it has. */
void cxr_blas_prefer_avx512(char **argv);
/* Sets name=value and runs the program again with argv (OpenBLAS reads
 * its variables when it loads, before main). If the exec fails the
 * program goes on as it is; the variable stays set, so that a child exec
 * does not try again. */
void cxr_reexec_with(char **argv, const char *name, const char *value);
/* OpenBLAS's kernel set, e.g. "Haswell", "SkylakeX". */
const char *cxr_blas_core(void);

#endif
