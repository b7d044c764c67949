/* replay — a main() for the fuzz targets without libFuzzer: each argument
 * (a file, or a directory whose files are taken in name order) is read into
 * a buffer of exactly its size and passed to LLVMFuzzerTestOneInput once.
 *
 * Exits 1, naming the input, if the target exits, runs longer than
 * FUZZ_TIMEOUT seconds (default 30), or (without ASan, whose shadow memory
 * counts) raises the peak resident set more than FUZZ_RSS_MB (default 256)
 * over what it was before the first input. A crash is the crash's own
 * status; the input being run is named on stderr first when FUZZ_VERBOSE
 * is set, and always by `sh tests/fuzz/replay.sh`, which runs one file per
 * process when a run fails. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *current; /* the input being run, or NULL */

static void on_exit_during_input(void)
{
	if (current) {
		fprintf(stderr, "replay: %s: the target called exit()\n", current);
		_exit(1);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "replay: timeout on ";
	if (write(2, m, sizeof m - 1) < 0 || write(2, current, strlen(current)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(1);
	_exit(1);
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int run_file(const char *path, unsigned timeout, long rss_limit_kb, long base_kb)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	struct stat st;
	if (fstat(fileno(f), &st)) {
		perror(path);
		fclose(f);
		return 1;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || (n && fread(buf, 1, n, f) != n)) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "replay: %s\n", path);
	current = path;
	alarm(timeout);
	LLVMFuzzerTestOneInput(buf, n);
	alarm(0);
	current = NULL;
	free(buf);
	if (rss_limit_kb && maxrss_kb() - base_kb > rss_limit_kb) {
		fprintf(stderr, "replay: %s: peak RSS %ld MB, over %ld MB more than before the first input\n",
			path, maxrss_kb() / 1024, rss_limit_kb / 1024);
		return 1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	atexit(on_exit_during_input);
	signal(SIGALRM, on_alarm);
	const char *e = getenv("FUZZ_TIMEOUT");
	unsigned timeout = e ? (unsigned)atoi(e) : 30;
	long rss_limit_kb = 0;
#ifndef HAVE_ASAN
	e = getenv("FUZZ_RSS_MB");
	rss_limit_kb = (e ? atol(e) : 256) * 1024;
#endif
	long base_kb = maxrss_kb();
	int bad = 0, files = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i], timeout, rss_limit_kb, base_kb);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			bad = 1;
			continue;
		}
		char **names = NULL;
		size_t nn = 0, cap = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (nn == cap) {
				cap = cap ? 2 * cap : 64;
				names = realloc(names, cap * sizeof *names);
			}
			size_t len = strlen(argv[i]) + strlen(de->d_name) + 2;
			names[nn] = malloc(len);
			snprintf(names[nn], len, "%s/%s", argv[i], de->d_name);
			nn++;
		}
		closedir(d);
		if (nn)
			qsort(names, nn, sizeof *names, by_name);
		for (size_t k = 0; k < nn; k++) {
			if (!stat(names[k], &st) && S_ISREG(st.st_mode)) {
				bad |= run_file(names[k], timeout, rss_limit_kb, base_kb);
				files++;
			}
			free(names[k]);
		}
		free(names);
	}
	fprintf(stderr, "replay: %s: %d input(s)%s\n", argv[0], files, bad ? ", some failed" : "");
	return bad;
}
