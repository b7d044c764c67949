/* gzin — see gzin.h. A FILE over zlib's gzFile through fopencookie, so
 * readers written for stdio (libcsv's feed loop, getline) need no change. */
#define _GNU_SOURCE
#include "base/gzin.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/cli.h"

/* The last error of each open stream: one at a time is all the tools
 * need, so a small table keyed by FILE*. */
enum { MAX_OPEN = 8 };
static struct {
	FILE *f;
	gzFile z;
} open_gz[MAX_OPEN];

static ssize_t gz_read(void *cookie, char *buf, size_t n)
{
	int k = gzread((gzFile)cookie, buf, n > INT_MAX ? INT_MAX : (unsigned)n);
	if (k < 0) {
		errno = EIO;
		return -1;
	}
	if (k == 0) {
		/* A gzip stream cut short reads as a short, clean end unless
		 * asked: zlib records it as Z_BUF_ERROR. */
		int err;
		gzerror((gzFile)cookie, &err);
		if (err != Z_OK) {
			errno = EIO;
			return -1;
		}
	}
	return k;
}

static int gz_close(void *cookie)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (open_gz[i].z == (gzFile)cookie)
			open_gz[i].f = NULL, open_gz[i].z = NULL;
	return gzclose_r((gzFile)cookie) == Z_OK ? 0 : -1;
}

FILE *cxr_gzin_open(const char *path)
{
	FILE *f = cxr_open_in(path);
	int fd = dup(fileno(f));
	if (f != stdin)
		fclose(f);
	gzFile z = fd < 0 ? NULL : gzdopen(fd, "rb");
	if (!z)
		cxr_die(CXR_EXIT_DATA, "%s: %s", cxr_name(path), strerror(fd < 0 ? errno : ENOMEM));
	gzbuffer(z, 1 << 17);
	cookie_io_functions_t io = {.read = gz_read, .close = gz_close};
	FILE *g = fopencookie(z, "r", io);
	if (!g)
		cxr_die(CXR_EXIT_DATA, "%s: %s", cxr_name(path), strerror(errno));
	for (int i = 0; i < MAX_OPEN; i++)
		if (!open_gz[i].f) {
			open_gz[i].f = g, open_gz[i].z = z;
			break;
		}
	return g;
}

const char *cxr_gzin_error(FILE *f)
{
	for (int i = 0; i < MAX_OPEN; i++)
		if (open_gz[i].f == f) {
			int err;
			const char *msg = gzerror(open_gz[i].z, &err);
			if (err == Z_ERRNO)
				return strerror(errno);
			if (err == Z_BUF_ERROR)
				return "gzip data ends early (unexpected end of file)";
			if (err != Z_OK)
				return msg;
		}
	return strerror(errno ? errno : EIO);
}
