/* parallel — thread counts for OpenBLAS and OpenMP; OpenBLAS kernel choice. */
#include "base/parallel.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int nthreads;

void cxr_par_set_threads(int n)
{
	if (n < 1) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	nthreads = n;
	openblas_set_num_threads(1); /* see parallel.h */
	omp_set_num_threads(n);
}

int cxr_par_threads(void)
{
	return nthreads ? nthreads : omp_get_max_threads();
}

const char *cxr_blas_core(void)
{
	return openblas_get_corename();
}

/* parallel.h; execs the file /proc/self/exe names rather than the link,
 * whose name would become the process's (pgrep, ps and killall would
 * see "exe"). */
void cxr_reexec_with(char **argv, const char *name, const char *value)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || (size_t)n >= sizeof self - 1)
		return;
	self[n] = 0;
	if (setenv(name, value, 1) == 0)
		execv(self, argv);
}

void cxr_blas_prefer_avx512(char **argv)
{
	if (getenv("OPENBLAS_CORETYPE"))
		return;
	__builtin_cpu_init();
	if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
	      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	      __builtin_cpu_supports("avx512vl")))
		return;
	const char *core = openblas_get_corename();
	if (!core || !strcasecmp(core, "skylakex") || !strcasecmp(core, "cooperlake") ||
	    !strcasecmp(core, "sapphirerapids"))
		return;
	cxr_reexec_with(argv, "OPENBLAS_CORETYPE", "SkylakeX");
}
