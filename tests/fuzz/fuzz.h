/* fuzz.h — what the fuzz targets share (tests/fuzz/README).
 *
 * Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput for one parser
 * of outside bytes. The same file builds two ways: with clang and
 * -fsanitize=fuzzer (make fuzz: libFuzzer's main, tests/fuzz/build/) and
 * with $(CC) and tests/fuzz/replay.c (make check, make fuzz-replay: a
 * main() that feeds it each file once). A target must leave nothing
 * behind between calls (no leaks, no open files) and never exit. */
#ifndef CXR_FUZZ_H
#define CXR_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The bytes as a read-only stream without a file descriptor (fileno -1),
 * like a pipe read through stdio. Never NULL. */
static inline FILE *fuzz_memfile(const uint8_t *data, size_t size)
{
	static char empty[1];
	FILE *f = size ? fmemopen((void *)data, size, "rb") : fmemopen(empty, 1, "rb");
	if (f && !size)
		fgetc(f); /* at the end of a one-byte buffer: empty input */
	if (!f) {
		perror("fuzz: fmemopen");
		abort();
	}
	return f;
}

/* The directory for files of the targets: FUZZ_TMPDIR, else /dev/shm
 * (memory: a file rewritten a thousand times a second on disk makes the
 * fuzzer wait on the disk), else TMPDIR, else /tmp. */
static inline const char *fuzz_tmpdir(void)
{
	const char *d = getenv("FUZZ_TMPDIR");
	if (d && *d)
		return d;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/* A file of this process (in fuzz_tmpdir()), removed at exit, that
 * fuzz_file() rewrites with each input: for readers that take a path. */
static char fuzz_path[4096];

static inline void fuzz_path_remove(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	if (!fuzz_path[0]) {
		snprintf(fuzz_path, sizeof fuzz_path, "%s/cxr-fuzz.XXXXXX", fuzz_tmpdir());
		int fd = mkstemp(fuzz_path);
		if (fd < 0) {
			perror("fuzz: mkstemp");
			abort();
		}
		close(fd);
		atexit(fuzz_path_remove);
	}
	FILE *f = fopen(fuzz_path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
		perror(fuzz_path);
		abort();
	}
	return fuzz_path;
}

/* The bytes as one zstd frame (level 1, with the content size), malloc'd;
 * one compression context is kept for the whole run. */
static inline uint8_t *fuzz_zstd(const void *data, size_t size, size_t *zn)
{
	static ZSTD_CCtx *cctx;
	if (!cctx && !(cctx = ZSTD_createCCtx()))
		abort();
	size_t cap = ZSTD_compressBound(size);
	uint8_t *z = malloc(cap);
	if (!z)
		abort();
	*zn = ZSTD_compressCCtx(cctx, z, cap, data, size, 1);
	if (ZSTD_isError(*zn))
		abort();
	return z;
}

/* Reads every byte of a buffer the library handed back, so that ASan
 * checks it is all there (the sum is kept from being optimised away). */
static volatile unsigned fuzz_sink;
static inline void fuzz_touch(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s += b[i];
	fuzz_sink += s;
}
static inline void fuzz_touch_str(const char *s)
{
	if (s)
		fuzz_touch(s, strlen(s) + 1);
}

#endif
