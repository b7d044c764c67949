/* resnet_check — lib/resnet against a golden file of PyTorch's results
 * (tests/golden/make_golden.py, e.g. a full-size one from --full):
 * prints the normwise relative error ||a-b||/||b|| of the logits, the
 * loss, every gradient, the BN running statistics, an Adam step and the
 * eval logits, one line each, and exits 1 if any is above its bound.
 *
 *	resnet_check [-q] [-I] [-W ISA] [-G GEMM] [-j N] [-g TOL] [-l TOL] GOLDEN.cxm...
 *
 * Bounds: 1e-5 for logits, loss and running statistics, -g (1e-3, the
 * full-size bound) for gradients and the Adam step. -q prints only the
 * worst of each kind; -I runs every convolution by im2col + sgemm (the
 * reference path) instead of Winograd for the 3x3 stride-1 ones; -W forces
 * Winograd's instruction set (avx512, avx2, sse2), -G the matrix products'
 * (avx512 or blas); -P bf16 runs the network in bf16 (give bounds that
 * fit it with -l and -g). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/cli.h"
#include "nn/gemm.h"
#include "base/parallel.h"
#include "nn/wino.h"
#include "../tests/resnet_golden.h"

int main(int argc, char **argv)
{
	cxr_blas_prefer_avx512(argv);
	cxr_init(argc, argv, 0);
	golden_cli o = golden_cli_defaults();
	int c;
	while ((c = getopt(argc, argv, "qj:g:l:IW:G:P:")) != -1) {
		switch (c) {
		case 'P':
			if ((golden_precision = cxr_precision_parse(optarg)) < 0 ||
			    !cxr_precision_available(golden_precision))
				cxr_usage_error("-P %s: not fp32 or bf16, or not available here", optarg);
			break;
		case 'W':
			if (cxr_wino_set_isa(optarg))
				cxr_usage_error("-W %s: not available here", optarg);
			break;
		case 'G':
			if (cxr_gemm_use(optarg))
				cxr_usage_error("-G %s: not available here", optarg);
			break;
		case 'l':
			o.tol.logits = o.tol.loss = o.tol.eval = cxr_parse_double("-l", optarg, 0, 1);
			break;
		default:
			if (golden_cli_option(&o, c, optarg))
				break;
			cxr_usage_error("usage: resnet_check [-q] [-I] [-P PREC] [-W ISA] [-G GEMM] [-j N] [-g TOL] [-l TOL] GOLDEN...");
		}
	}
	if (optind >= argc)
		cxr_usage_error("usage: resnet_check [-q] [-I] [-P PREC] [-W ISA] [-G GEMM] [-j N] [-g TOL] [-l TOL] GOLDEN...");
	cxr_resnet_set_threads(o.threads);
	int failed = 0;
	for (int i = optind; i < argc; i++) {
		golden_report r;
		double t0 = cxr_now();
		printf("%s (%s %s, gemm %s, OpenBLAS %s, %d threads)\n", argv[i],
		       o.wino ? "Winograd 3x3" : "im2col only", o.wino ? cxr_wino_isa() : "", cxr_gemm_impl(), cxr_blas_core(),
		       cxr_par_threads());
		if (golden_run(argv[i], o.wino, &o.tol, o.quiet ? NULL : stdout, &r))
			cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg());
		printf("logits %.3g  loss %.3g  eval %.3g (unfolded %.3g)\n", r.logits, r.loss,
		       r.eval_logits, r.eval_unfolded);
		printf("worst gradient %.3g (%s)  running stats %.3g (%s)  adam %.3g (%s)\n", r.grad,
		       r.grad_name, r.stats, r.stats_name, r.adam, r.adam_name);
		cxr_model *m = cxr_model_load(argv[i]);
		const char *pg = m ? cxr_model_get_meta(m, "golden.f64_err_grad") : NULL;
		const char *pl = m ? cxr_model_get_meta(m, "golden.f64_err_logits") : NULL;
		if (pg && pl)
			printf("PyTorch's own float32 against float64 here: worst gradient %s, "
			       "logits/loss/eval %s\n", pg, pl);
		cxr_model_free(m);
		printf("%d of %d comparisons above bound, %.1f s\n", r.failed, r.compared,
		       cxr_now() - t0);
		failed += r.failed;
	}
	return failed ? 1 : 0;
}
