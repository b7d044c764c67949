/* resnet_bench — speed of lib/resnet: training steps (forward, backward,
 * Adam) and inference, in images per second, peak memory, and where the
 * time goes (achieved GFLOP/s per layer kind against the machine's sgemm
 * ceiling, measured here with one large cblas_sgemm; the own gemm's on the
 * same product is printed too).
 *
 *	resnet_bench [-j 2] [-W 1] [-s 256] [-t 16,32] [-i 1,8,32] [-r 2]
 *	             [-A torchvision|keras]  (the architecture, torchvision's default)
 *
 * Each mode runs in its own process (so its peak RSS is its own): one
 * warm-up step, then -r timed steps. Output is TSV: a header, one line per
 * mode, then the per-kind profile of each mode's last step. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "nn/gemm.h"
#include "nn/optim.h"
#include "base/parallel.h"
#include "nn/precision.h"
#include "nn/resnet.h"

/* GFLOP/s of one large product: cblas_sgemm (own 0) or cxr_gemm (own 1). */
static double sgemm_ceiling(int own)
{
	const int n = 2048;
	float *a = cxr_xmalloc((size_t)n * n * sizeof *a), *b = cxr_xmalloc((size_t)n * n * sizeof *b);
	float *c = cxr_xmalloc((size_t)n * n * sizeof *c);
	for (size_t i = 0; i < (size_t)n * n; i++)
		a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
	double best = 0;
	/* OpenBLAS on its own threads, as a program calling it alone runs it
	 * (the library gives it one: base/parallel.h) */
	if (!own)
		openblas_set_num_threads(cxr_par_threads());
	for (int r = 0; r < 4; r++) {
		double t0 = cxr_now();
		if (own)
			cxr_gemm(0, 0, n, n, n, a, n, b, n, 0, c, n);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n,
				    0, c, n);
		double g = 2.0 * n * n * n / (cxr_now() - t0) / 1e9;
		best = g > best && r ? g : best;
	}
	openblas_set_num_threads(1);
	free(a), free(b), free(c);
	return best;
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
}

static void profile_lines(cxr_resnet *net, const char *mode, int batch, double ceiling,
			  double own)
{
	double tsec = 0, tflop = 0;
	for (int k = 0; k < CXR_PROF_N; k++) {
		const cxr_resnet_prof *p = cxr_resnet_profile_get(net, k);
		for (int ph = 0; ph < 2; ph++) {
			if (p->sec[ph] == 0)
				continue;
			double g = p->flop[ph] / p->sec[ph] / 1e9;
			printf("#\t%s\t%d\t%s\t%s\t%.1f", mode, batch, p->name, ph ? "bwd" : "fwd",
			       p->sec[ph] * 1e3);
			if (p->flop[ph] > 0)
				printf("\t%.1f\t%.2f\n", g, g / ceiling);
			else
				printf("\t-\t-\n");
			tsec += p->sec[ph], tflop += p->flop[ph];
		}
	}
	printf("#\t%s\t%d\ttotal\tall\t%.1f\t%.1f\t%.2f\n", mode, batch, tsec * 1e3,
	       tflop / tsec / 1e9, tflop / tsec / 1e9 / ceiling);
	printf("#\t%s\t%d\tsgemm\tceiling\t-\t%.1f\t1\n", mode, batch, ceiling);
	printf("#\t%s\t%d\tgemm(%s)\tceiling\t-\t%.1f\t%.2f\n", mode, batch, cxr_gemm_impl(),
	       own, own / ceiling);
}

static int precision = CXR_PREC_FP32; /* -P */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int winograd = 1;              /* -I turns it off */

static void run_mode(const cxr_resnet_config *cfg, int train, int batch, int reps)
{
	double ceiling = sgemm_ceiling(0), own = sgemm_ceiling(1);
	cxr_resnet *net = cxr_resnet_create(cfg, batch);
	if (!net)
		cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg());
	cxr_resnet_init(net, 1);
	if (cxr_resnet_set_precision(net, precision))
		cxr_die(CXR_EXIT_USAGE, "%s", cxr_errmsg());
	cxr_resnet_set_winograd(net, winograd);
	size_t hw = (size_t)cfg->height * cfg->width * cfg->in_channels;
	float *x = cxr_xmalloc(batch * hw * sizeof *x), *t = cxr_xmalloc(batch * sizeof *t);
	for (size_t i = 0; i < batch * hw; i++)
		x[i] = (float)((i * 2654435761u >> 8) & 255) / 255.0f;
	for (int i = 0; i < batch; i++)
		t[i] = (float)(i & 1);
	size_t np = cxr_resnet_num_params(net);
	float *mom = train ? cxr_xcalloc(2 * np, sizeof *mom) : NULL;
	cxr_adam_cfg adam = cxr_adam_defaults();
	double best = 1e30, sum = 0, cpu_best = 1e30;
	/* one warm-up step, then reps timed ones; the last is profiled */
	for (int r = 0; r <= reps; r++) {
		if (r == reps)
			cxr_resnet_profile(net, 1);
		double t0 = cxr_now(), c0 = cpu_now();
		if (train) {
			cxr_resnet_zero_grads(net);
			if (!cxr_resnet_forward(net, x, batch, 1))
				cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg());
			cxr_resnet_loss(net, t);
			cxr_resnet_backward(net);
			cxr_adam_step(cxr_resnet_params(net), cxr_resnet_grads(net), mom, mom + np, np,
				      &adam, r + 1);
			cxr_resnet_params_changed(net);
		} else if (!cxr_resnet_forward(net, x, batch, 0)) {
			cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg());
		}
		double dt = cxr_now() - t0, dc = cpu_now() - c0;
		if (r > 0 && dc < cpu_best)
			cpu_best = dc;
		if (r > 0) {
			best = dt < best ? dt : best;
			sum += dt;
		}
	}
	const char *mode = train ? "train" : "infer";
	printf("%s\t%d\t%.2f\t%.2f\t%.0f\t%.1f\t%.2f\n", mode, batch, batch / best,
	       batch * reps / sum, peak_rss_mb(), cxr_resnet_flops(net, train) * batch / best / 1e9,
	       batch / cpu_best);
	profile_lines(net, mode, batch, ceiling, own);
	fflush(stdout);
	free(x), free(t), free(mom);
	cxr_resnet_free(net);
}

static int parse_list(const char *opt, const char *s, int *v, int max)
{
	int n = 0;
	char *copy = cxr_xstrdup(s), *save = NULL;
	for (char *p = strtok_r(copy, ",", &save); p && n < max; p = strtok_r(NULL, ",", &save))
		v[n++] = (int)cxr_parse_long(opt, p, 1, 4096);
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	cxr_blas_prefer_avx512(argv);
	cxr_init(argc, argv, 0);
	cxr_resnet_config cfg;
	cxr_resnet_default_config(&cfg);
	int threads = 2, reps = 2, tb[8] = {16, 32}, ib[8] = {1, 8, 32}, nt = 2, ni = 3, c;
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	static const char usage[] =
		"usage: resnet_bench [-j N] [-W W] [-s SIZE] [-t B,..] [-i B,..] [-r N] [-P fp32|bf16] "
		"[-I] [-A torchvision|keras]";
	while ((c = getopt_long(argc, argv, "j:W:s:t:i:r:P:IA:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("%s\n\n"
			       "  -j N      threads (2)           -W W     width multiplier (1)\n"
			       "  -s SIZE   input side (256)      -r N     timed steps a mode (2)\n"
			       "  -t B,..   training batches (16,32; - none)\n"
			       "  -i B,..   inference batches (1,8,32; - none)\n"
			       "  -P P      fp32 or bf16          -I       3x3 by im2col, not Winograd\n"
			       "  -A ARCH   torchvision (default) or keras\n",
			       usage);
			return 0;
		case 'A':
			if (!strcmp(optarg, "keras") || !strcmp(optarg, "keras-resnet50"))
				cfg.arch = CXR_ARCH_KERAS;
			else if (!strcmp(optarg, "torchvision") || !strcmp(optarg, "torchvision-resnet50"))
				cfg.arch = CXR_ARCH_TORCHVISION;
			else
				cxr_usage_error("-A takes torchvision or keras, not '%s'", optarg);
			break;
		case 'j':
			threads = (int)cxr_parse_long("-j", optarg, 1, 1024);
			break;
		case 'W':
			cfg.width_mult = cxr_parse_double("-W", optarg, 1e-3, 4);
			break;
		case 's':
			cfg.height = cfg.width = (int)cxr_parse_long("-s", optarg, 16, 4096);
			break;
		case 't':
			nt = strcmp(optarg, "-") ? parse_list("-t", optarg, tb, 8) : 0;
			break;
		case 'i':
			ni = strcmp(optarg, "-") ? parse_list("-i", optarg, ib, 8) : 0;
			break;
		case 'I':
			winograd = 0;
			break;
		case 'P':
			if ((precision = cxr_precision_parse(optarg)) < 0)
				cxr_usage_error("-P takes fp32 or bf16, not '%s'", optarg);
			break;
		case 'r':
			reps = (int)cxr_parse_long("-r", optarg, 1, 100);
			break;
		default:
			cxr_usage_error("%s", usage);
		}
	}
	/* no threads start in this process: OpenMP does not survive fork */
	printf("# resnet_bench: %s, width %g, %dx%d input, %d threads, %s, 3x3 by %s, OpenBLAS %s\n",
	       cfg.arch == CXR_ARCH_KERAS ? "keras-resnet50" : "torchvision-resnet50",
	       cfg.width_mult, cfg.height, cfg.width, threads, cxr_precision_name(precision),
	       winograd ? "Winograd" : "im2col", cxr_blas_core());
	/* img_per_cpu_s: images per second of the process's CPU time, the
	 * figure that holds on a machine busy with other work (-j 1) */
	printf("mode\tbatch\timg_per_s\tmean_img_per_s\tpeak_rss_mb\tgflops\timg_per_cpu_s\n");
	fflush(stdout);
	for (int i = 0; i < nt + ni; i++) {
		pid_t pid = fork();
		if (pid < 0)
			cxr_die(CXR_EXIT_DATA, "fork: failed");
		if (pid == 0) {
			cxr_resnet_set_threads(threads);
			run_mode(&cfg, i < nt, i < nt ? tb[i] : ib[i - nt], reps);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			cxr_die(CXR_EXIT_DATA, "mode %d failed", i);
	}
	printf("# profile lines: # mode batch kind phase ms gflops fraction_of_sgemm_ceiling\n");
	return 0;
}
