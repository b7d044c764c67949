/* keras_check — lib/resnet's keras-resnet50 against a golden file of
 * PyTorch's results (tests/golden/make_keras_golden.py, e.g. a full-size
 * one from --full; tests/resnet_golden.h compares): prints the normwise
 * relative error ||a-b||/||b|| of the logits, the loss, every gradient
 * (a convolution bias's relative to its unit's BN bias gradient, as
 * resnet_golden.h explains), the BN running statistics and the eval logits,
 * one line each, then the largest absolute and relative element errors of
 * logits and loss; exits 1 if any is above its bound.
 *
 *	keras_check [-q] [-I] [-j N] [-g TOL] GOLDEN.cxm...
 *
 * Bounds: 1e-5 for logits, loss, running statistics and eval logits, -g
 * (1e-3, ARCHITECTURE.md's full-size bound) for gradients. -q prints only
 * the summary; -I runs every convolution by im2col + sgemm instead of
 * Winograd for the 3x3 stride-1 ones. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/cli.h"
#include "base/parallel.h"
#include "../tests/resnet_golden.h"

int main(int argc, char **argv)
{
	cxr_blas_prefer_avx512(argv);
	cxr_init(argc, argv, 0);
	golden_cli o = golden_cli_defaults();
	int c;
	while ((c = getopt(argc, argv, "qj:g:I")) != -1)
		if (!golden_cli_option(&o, c, optarg))
			cxr_usage_error("usage: keras_check [-q] [-I] [-j N] [-g TOL] GOLDEN.cxm...");
	if (optind == argc)
		cxr_usage_error("give a golden file (tests/golden/make_keras_golden.py)");
	cxr_resnet_set_threads(o.threads);
	int bad = 0;
	for (int i = optind; i < argc; i++) {
		golden_report r;
		if (golden_run_keras(argv[i], o.wino, &o.tol, o.quiet ? NULL : stdout, &r))
			cxr_die_err();
		printf("%s (%s): logits %.3g loss %.3g eval %.3g/%.3g (folded/apart); worst gradient "
		       "%.3g (%s), conv bias gradient %.3g (%s), running statistic %.3g (%s); "
		       "max abs/rel: logits %.3g/%.3g, loss %.3g; %d of %d above bound\n",
		       argv[i], o.wino ? "Winograd" : "im2col", r.logits, r.loss, r.eval_logits,
		       r.eval_unfolded, r.grad, r.grad_name, r.bias, r.bias_name, r.stats,
		       r.stats_name, r.abs_logits, r.rel_logits, r.abs_loss, r.failed,
		       r.compared);
		bad += r.failed;
	}
	return bad ? 1 : 0;
}
