/* parallel — one thread count for both kinds of work in the network:
 * OpenMP runs the element-wise passes (batch norm, ReLU, pooling, im2col)
 * and cxr's own matrix kernel; OpenBLAS's pthreads run the products where
 * OpenBLAS has them (CXR_GEMM=blas, a CPU without AVX-512), else only the
 * head's small ones, on one thread (cxr_par_blas_threads). Products are
 * called from the main thread only, outside any OpenMP region. */
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

/* Sets both pools to n threads (n < 1: all cores). */
void cxr_par_set_threads(int n);
int cxr_par_threads(void);
/* Which implementation runs the convolutions' products (nn/gemm.h tells
 * on every change), so that OpenBLAS gets, now and at every later
 * cxr_par_set_threads, cxr_par_threads() threads where it runs them and 1
 * where the own kernel does (own_gemm) and OpenBLAS has only the head's
 * small products left: its workers spin, yielding, for a while after
 * every threaded call, and took the cores from the OpenMP threads of the
 * next image's convolutions (fp32 scoring at batch 1 lost a quarter of
 * its time to sched_yield and the hypervisor's interrupts). One thread
 * changes those small products' last bits (OpenBLAS takes another path
 * for them) and makes them independent of the thread count. */
void cxr_par_blas_threads(int own_gemm);

/* 1 where the convolutions' matrix products run cxr's own AVX-512 kernel
 * by default (nn/gemm.h): the CPU has AVX-512F and CXR_GEMM is not
 * "blas"; 0 where OpenBLAS runs them. Safe before main (base/cli.c's
 * constructor sets the OpenMP waiting from it). */
int cxr_own_gemm_default(void);

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

/* Where OpenBLAS runs the convolutions' products on several threads (no
 * AVX-512, or CXR_GEMM=blas), its workers spin, yielding, for 2^28 cycles
 * (about 0.1 s) after every call before they sleep, and take the cores
 * from the OpenMP threads of the passes between the products (Winograd's
 * convolutions, batch norm): on a 2-core AMD EPYC (Zen 3) fp32 scoring at
 * batch 8 ran at 11.7 img/s, training at batch 16 at 2.6. With
 * OPENBLAS_THREAD_TIMEOUT=4 (sleep at once) 13.6 and 3.1, but the demo's
 * small network, whose products are microseconds apart, woke the workers
 * for each and trained 25% slower than with 20 (2^20 cycles, a third of a
 * millisecond): 20 is what this sets, 3.6 img/s in training at batch 16
 * and scoring as fast as with 4. The variable is read when the library
 * loads, so this sets it and re-executes the program: call it first thing
 * in main. It does nothing where cxr's own kernel runs the products or
 * when the variable is already set (the user's setting wins). */
void cxr_blas_sleep_soon(char **argv);
/* OpenBLAS's kernel set, e.g. "Haswell", "SkylakeX". */
const char *cxr_blas_core(void);

#endif
