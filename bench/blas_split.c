/* blas_split — where OpenBLAS runs the products (no AVX-512), cxr's
 * share of each product among its OpenMP threads (lib/nn/gemm.c,
 * gemm_blas: a block of rows or columns per thread, one single-threaded
 * OpenBLAS call each) against OpenBLAS dividing the product among its
 * own threads, and against one thread, on the 1x1 convolutions' shapes
 * of ResNet-50 at 256x256, batch 8.
 *
 *	blas_split [-j threads] [-r repeats]
 *
 * Prints ms (best of -r, the three ways alternated) per shape and the
 * totals. OpenBLAS's workers spin for 2^28 cycles after each threaded
 * call and would take the cores from the next way's threads, so the
 * program runs itself again with OPENBLAS_THREAD_TIMEOUT=4 unless it is
 * set. Forces CXR_GEMM=blas's path, so it runs on any CPU. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/parallel.h"
#include "nn/gemm.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (!getenv("OPENBLAS_THREAD_TIMEOUT"))
		cxr_reexec_with(argv, "OPENBLAS_THREAD_TIMEOUT", "4");
	int threads = 2, reps = 5, opt;
	while ((opt = getopt(argc, argv, "j:r:")) != -1) {
		if (opt == 'j')
			threads = atoi(optarg);
		else if (opt == 'r')
			reps = atoi(optarg);
		else {
			fprintf(stderr, "usage: blas_split [-j threads] [-r repeats]\n");
			return 2;
		}
	}
	if (threads < 1 || reps < 1)
		return 2;
	cxr_par_set_threads(threads);
	if (cxr_gemm_use("blas"))
		return 1;
	/* m = 8 images x h x w, k = input channels, n = output channels */
	static const int shapes[][3] = {
		{32768, 64, 64}, {32768, 64, 256}, {32768, 256, 64}, {8192, 128, 512},
		{8192, 512, 128}, {8192, 256, 128}, {2048, 256, 1024}, {2048, 1024, 256},
		{2048, 512, 256}, {512, 512, 2048}, {512, 2048, 512},
	};
	const char *way[3] = {"cxr_share", "openblas_threads", "one_thread"};
	double total[3] = {0, 0, 0};
	printf("# blas_split: %d threads, best of %d; OpenBLAS %s\n", threads, reps, cxr_blas_core());
	printf("m\tk\tn\t%s_ms\t%s_ms\t%s_ms\n", way[0], way[1], way[2]);
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		const int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
		float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)n * k * sizeof *b);
		float *c = malloc((size_t)m * n * sizeof *c);
		if (!a || !b || !c)
			return 1;
		for (size_t i = 0; i < (size_t)m * k; i++)
			a[i] = (float)(i % 7) * 0.1f;
		for (size_t i = 0; i < (size_t)n * k; i++)
			b[i] = (float)(i % 5) * 0.1f;
		double best[3] = {1e30, 1e30, 1e30};
		for (int r = 0; r <= reps; r++)
			for (int w = 0; w < 3; w++) {
				double t0 = now();
				if (w == 0) {
					cxr_gemm(0, 1, m, n, k, a, k, b, k, 0, c, n);
				} else {
					openblas_set_num_threads(w == 1 ? threads : 1);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a,
						    k, b, k, 0, c, n);
					openblas_set_num_threads(1);
				}
				double t = now() - t0;
				if (r > 0 && t < best[w])
					best[w] = t;
			}
		printf("%d\t%d\t%d\t%.2f\t%.2f\t%.2f\n", m, k, n, best[0] * 1e3, best[1] * 1e3,
		       best[2] * 1e3);
		for (int w = 0; w < 3; w++)
			total[w] += best[w];
		free(a), free(b), free(c);
	}
	printf("total\t-\t-\t%.2f\t%.2f\t%.2f\n", total[0] * 1e3, total[1] * 1e3, total[2] * 1e3);
	return 0;
}
