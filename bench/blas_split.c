/* blas_split — the matrix products of ResNet-50's 1x1 convolutions at
 * 256x256, batch 8, five ways: cxr's own kernel (lib/nn/gemm.c, where the
 * CPU has AVX-512 or AVX2: "-" elsewhere) as training calls it (B packed
 * on every call) and as inference does (B packed once, the bias and ReLU
 * added as C is stored); where OpenBLAS runs them (CXR_GEMM=blas, or no
 * AVX2), cxr's share of each product among its OpenMP threads (gemm_blas:
 * a block of rows or columns per thread, one single-threaded OpenBLAS
 * call each); OpenBLAS dividing the product among its own threads; and
 * OpenBLAS on one thread.
 *
 *	blas_split [-j threads] [-r repeats] [-t]
 *
 * -t: training's three products per shape instead (the forward, the
 * weight gradient dW = dY' X summed over the batch's m rows, and the
 * input gradient dX = dY W, as lib/nn/conv.c calls them), the own kernel
 * against cxr's share of OpenBLAS, their times added.
 *
 * Prints ms (best of -r, the ways alternated) per shape and the totals,
 * and each way's GFLOP/s over all shapes. The inference way's time
 * includes its epilogue; the others' do not (conv.c adds the bias and
 * ReLU in a pass of its own after them). OpenBLAS's workers spin for 2^28 cycles after each threaded
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
#include "nn/precision.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* m = 8 images x h x w, k = input channels, n = output channels */
static const int shapes[][3] = {
	{32768, 64, 64}, {32768, 64, 256}, {32768, 256, 64}, {8192, 128, 512},
	{8192, 512, 128}, {8192, 256, 128}, {2048, 256, 1024}, {2048, 1024, 256},
	{2048, 512, 256}, {512, 512, 2048}, {512, 2048, 512},
};
#define NSHAPES (sizeof shapes / sizeof *shapes)

static float *filled(size_t n, int mod)
{
	float *p = malloc(n * sizeof *p);
	if (!p)
		exit(1);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(i % mod) * 0.1f;
	return p;
}

/* -t: per shape (m = 16 images here, as training's batch), the forward
 * y = x W', the weight gradient dW += dy' x and the input gradient dx =
 * dy W, with the own kernel (own: its name, NULL: none) and with cxr's
 * share of OpenBLAS, best of reps each, alternated. */
static int training_products(int threads, int reps, const char *own)
{
	const char *way[2] = {own ? own : "own", "blas"};
	double total[2] = {0, 0}, flops = 0, part[2][3] = {{0}};
	printf("# blas_split -t: training's products at batch 16, %d threads, best of %d\n", threads,
	       reps);
	printf("m\tk\tn\town_ms\tcxr_share_ms\n");
	for (size_t s = 0; s < NSHAPES; s++) {
		const int m = 2 * shapes[s][0], k = shapes[s][1], n = shapes[s][2];
		float *x = filled((size_t)m * k, 7), *w = filled((size_t)n * k, 5);
		float *y = filled((size_t)m * n, 3), *dw = filled((size_t)n * k, 2);
		float *dx = filled((size_t)m * k, 3);
		double best[2] = {1e30, 1e30}, bp[2][3];
		for (int r = 0; r <= reps; r++)
			for (int v = own ? 0 : 1; v < 2; v++) {
				cxr_gemm_use(way[v]);
				double t0 = now();
				cxr_gemm(0, 1, m, n, k, x, k, w, k, 0, y, n);   /* forward */
				double t1 = now();
				cxr_gemm(1, 0, n, k, m, y, n, x, k, 1, dw, k);  /* weight gradient */
				double t2 = now();
				cxr_gemm(0, 0, m, k, n, y, n, w, k, 0, dx, k);  /* input gradient */
				double t = now() - t0;
				if (r > 0 && t < best[v]) {
					best[v] = t;
					bp[v][0] = t1 - t0, bp[v][1] = t2 - t1, bp[v][2] = t0 + t - t2;
				}
			}
		cxr_gemm_use(NULL);
		printf("%d\t%d\t%d\t", m, k, n);
		printf(own ? "%.2f" : "-", best[0] * 1e3);
		printf("\t%.2f\n", best[1] * 1e3);
		for (int v = own ? 0 : 1; v < 2; v++) {
			total[v] += best[v];
			for (int q = 0; q < 3; q++)
				part[v][q] += bp[v][q];
		}
		flops += 6.0 * m * n * k;
		free(x), free(w), free(y), free(dw), free(dx);
	}
	printf("total\t-\t-\t%.2f\t%.2f\n", own ? total[0] * 1e3 : 0, total[1] * 1e3);
	printf("GFLOP/s\t-\t-\t%.1f\t%.1f\n", own ? flops / total[0] * 1e-9 : 0,
	       flops / total[1] * 1e-9);
	static const char *const what[3] = {"forward", "weight_grad", "input_grad"};
	for (int q = 0; q < 3; q++)
		printf("%s\t-\t-\t%.2f\t%.2f\n", what[q], part[0][q] * 1e3, part[1][q] * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (!getenv("OPENBLAS_THREAD_TIMEOUT"))
		cxr_reexec_with(argv, "OPENBLAS_THREAD_TIMEOUT", "4");
	int threads = 2, reps = 5, training = 0, opt;
	while ((opt = getopt(argc, argv, "j:r:t")) != -1) {
		if (opt == 'j')
			threads = atoi(optarg);
		else if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 't')
			training = 1;
		else {
			fprintf(stderr, "usage: blas_split [-j threads] [-r repeats] [-t]\n");
			return 2;
		}
	}
	if (threads < 1 || reps < 1)
		return 2;
	cxr_par_set_threads(threads);
	const char *own = cxr_gemm_impl(); /* the default, before "blas" is forced */
	const int have_own = cxr_gemm_can_prepack(CXR_PREC_FP32);
	if (training)
		return training_products(threads, reps, have_own ? own : NULL);
	enum { OWN, OWN_PACKED, SHARE, BLAS_THREADS, ONE_THREAD, WAYS };
	const char *way[WAYS] = {"own", "own_prepacked", "cxr_share", "openblas_threads",
				 "one_thread"};
	double total[WAYS] = {0}, flops = 0;
	printf("# blas_split: %d threads, best of %d; own kernel %s; OpenBLAS %s\n", threads, reps,
	       have_own ? own : "none", cxr_blas_core());
	printf("m\tk\tn");
	for (int w = 0; w < WAYS; w++)
		printf("\t%s_ms", way[w]);
	printf("\n");
	for (size_t s = 0; s < NSHAPES; s++) {
		const int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
		float *a = filled((size_t)m * k, 7), *b = filled((size_t)n * k, 5);
		float *c = filled((size_t)m * n, 3);
		float *bias = calloc((size_t)n, sizeof *bias), *packed = NULL;
		if (have_own) {
			/* the weights (n,k) as conv.c packs them */
			packed = aligned_alloc(64, cxr_gemm_packed_size(CXR_PREC_FP32, n, k) * 4 + 64);
			cxr_gemm_pack_b(CXR_PREC_FP32, 1, n, k, b, k, packed);
		}
		double best[WAYS];
		for (int w = 0; w < WAYS; w++)
			best[w] = 1e30;
		for (int r = 0; r <= reps; r++)
			for (int w = have_own ? OWN : SHARE; w < WAYS; w++) {
				cxr_gemm_use(w == SHARE ? "blas" : NULL);
				double t0 = now();
				if (w == OWN || w == SHARE) {
					cxr_gemm(0, 1, m, n, k, a, k, b, k, 0, c, n);
				} else if (w == OWN_PACKED) {
					cxr_gemm_prepacked(CXR_PREC_FP32, 0, m, n, k, a, k, packed, 0, bias,
							   1, c, n, NULL);
				} else {
					openblas_set_num_threads(w == BLAS_THREADS ? threads : 1);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a,
						    k, b, k, 0, c, n);
					openblas_set_num_threads(1);
				}
				double t = now() - t0;
				if (r > 0 && t < best[w])
					best[w] = t;
			}
		printf("%d\t%d\t%d", m, k, n);
		for (int w = 0; w < WAYS; w++) {
			if (best[w] < 1e30)
				printf("\t%.2f", best[w] * 1e3);
			else
				printf("\t-");
			total[w] += best[w];
		}
		printf("\n");
		flops += 2.0 * m * n * k;
		free(a), free(b), free(c), free(bias), free(packed);
	}
	printf("total");
	for (int w = 0; w < WAYS; w++)
		printf(w ? "\t%.2f" : "\t-\t-\t%.2f", total[w] < 1e30 ? total[w] * 1e3 : 0);
	printf("\nGFLOP/s");
	for (int w = 0; w < WAYS; w++)
		printf(w ? "\t%.1f" : "\t-\t-\t%.1f", total[w] < 1e30 ? flops / total[w] * 1e-9 : 0);
	printf("\n");
	return 0;
}
