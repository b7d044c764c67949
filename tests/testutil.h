/* Shared helpers for the Check suites: where fixtures live, temp dirs. */
#ifndef CXR_TESTUTIL_H
#define CXR_TESTUTIL_H
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A passing assertion costs nothing. Check's own ck_assert_msg (which
 * ck_assert and the typed ck_assert_* expand to) records every passing
 * assertion's place, in fork mode a write to the parent through a pipe:
 * the suites' element-by-element checks made 3.7 million of those a
 * `make check` (check_bf16: 1.8 million, 18 s of system time of its 26).
 * What that place was for: a test that crashes or times out is reported
 * at its last passing assertion; now at its last mark_point(), else its
 * start (under SANITIZE=1 the sanitizer's report names the line). */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...)                                                               \
	((expr) ? (void)0                                                                      \
		: _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

/* Batch norm's sums as the products and Winograd's output transform add
 * them up (stats: nt threads' slabs of 2c doubles, c channels' sums then
 * their squares'), against double sums of the values y holds (rows x c),
 * channel by channel. They sum each block of at most 16 rows in float as
 * differences from the block's first value k (block_sums.h), whose
 * rounding errors scale with those differences: |v - k| <= |v| + |k|,
 * and the blocks' n |k| add up to at most rows * max|v| (M). So the sum
 * is held within u (a0 + rows M), a0 the sum of the magnitudes, and the
 * sum of squares within u (4 r1 + 6 rows M^2), r1 the exact one (the
 * squares of the differences, at most 2 v^2 + 2 k^2, and twice k times
 * the sum's error). (Bounds on the magnitudes alone failed on some data:
 * a block of ReLU outputs whose first value is its largest and the rest
 * zero has differences n times its values.) -1 if every channel is
 * within them, else the first that is not, with its sums in got[] and
 * y's in want[]. */
static inline int test_channel_sums(const double *stats, int nt, const float *y, size_t rows,
				    int c, double u, double got[2], double want[2])
{
	for (int j = 0; j < c; j++) {
		double s0 = 0, s1 = 0, r0 = 0, r1 = 0, a0 = 0, m = 0;
		for (int t = 0; t < nt; t++)
			s0 += stats[(size_t)t * 2 * c + j], s1 += stats[(size_t)t * 2 * c + c + j];
		for (size_t i = 0; i < rows; i++) {
			double v = y[i * c + j];
			r0 += v, r1 += v * v, a0 += fabs(v);
			m = fabs(v) > m ? fabs(v) : m;
		}
		if (!(fabs(s0 - r0) <= u * (a0 + rows * m) &&
		      fabs(s1 - r1) <= u * (4 * r1 + 6 * rows * m * m))) {
			got[0] = s0, got[1] = s1, want[0] = r0, want[1] = r1;
			return j;
		}
	}
	return -1;
}

/* Test data: a xorshift64 stream in [0, 1) whose state test_lcg a test
 * may seed to repeat it, and arrays of floats uniform in [lo, hi). */
static uint64_t test_lcg __attribute__((unused)) = 88172645463325252ull;

static inline double test_urand(void)
{
	test_lcg ^= test_lcg << 13, test_lcg ^= test_lcg >> 7, test_lcg ^= test_lcg << 17;
	return (test_lcg >> 11) * (1.0 / 9007199254740992.0);
}

static inline float *test_frand(size_t n, double lo, double hi)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(lo + (hi - lo) * test_urand());
	return p;
}

/* Path of a file under tests/data, valid until the next call. */
static inline const char *test_data(const char *name)
{
	static char buf[4096];
	const char *top = getenv("CXR_TOP");
	snprintf(buf, sizeof buf, "%s/tests/data/%s", top ? top : ".", name);
	return buf;
}

/* Directories test_tmpdir made in this process, removed with what they
 * hold when it exits: Check runs each test in a child that exits (through
 * exit, so atexit runs) when the test ends, passed or failed. tests/run.sh
 * fails a test that leaves anything in its TMPDIR. */
typedef struct test_tmpdir_node {
	struct test_tmpdir_node *next;
	pid_t owner;
	char path[];
} test_tmpdir_node;
static test_tmpdir_node *test_tmpdirs;

/* Removes path, a directory's contents first (links not followed). */
static inline void test_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		for (struct dirent *e; d && (e = readdir(d));) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *sub = malloc(strlen(path) + strlen(e->d_name) + 2);
			if (!sub)
				abort();
			sprintf(sub, "%s/%s", path, e->d_name);
			test_remove_tree(sub);
			free(sub);
		}
		if (d)
			closedir(d);
	}
	remove(path);
}

static inline void test_tmpdirs_remove(void)
{
	/* a test's child inherits its parent's list: each removes its own */
	while (test_tmpdirs) {
		test_tmpdir_node *d = test_tmpdirs;
		test_tmpdirs = d->next;
		if (d->owner == getpid())
			test_remove_tree(d->path);
		free(d);
	}
}

/* A fresh temporary directory under $TMPDIR (or /tmp), as many as a
 * process asks for (CK_FORK=no runs a whole suite in one); it and its
 * files are removed when the process that made it exits. */
static inline const char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	test_tmpdir_node *d = malloc(sizeof *d + strlen(base) + sizeof "/cxr-test-XXXXXX");
	if (!d)
		abort();
	sprintf(d->path, "%s/cxr-test-XXXXXX", base);
	if (!mkdtemp(d->path))
		abort();
	d->owner = getpid();
	if (!test_tmpdirs)
		atexit(test_tmpdirs_remove);
	d->next = test_tmpdirs;
	test_tmpdirs = d;
	return d->path;
}

/* Runs one suite and returns the exit status for main. */
static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
/* Limits the address space to what the process maps now plus extra_mb, so
 * that an allocation the input's bytes do not justify fails (and cxr_x*
 * die: the test fails). 0, or -1 where that cannot work: under ASan, whose
 * shadow memory reserves terabytes. */
static inline int limit_memory(unsigned long extra_mb)
{
	if (getenv("CXR_SANITIZE"))
		return -1;
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (!f || fscanf(f, "%lu", &pages) != 1)
		return -1;
	fclose(f);
	struct rlimit r;
	getrlimit(RLIMIT_AS, &r);
	r.rlim_cur = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (extra_mb << 20);
	return setrlimit(RLIMIT_AS, &r);
}

static inline void unlimit_memory(void)
{
	struct rlimit r;
	getrlimit(RLIMIT_AS, &r);
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_AS, &r);
}

#endif
