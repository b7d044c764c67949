/* cli — what every tool shares: error messages that name the tool, exit
 * statuses, signal handling, outputs that appear whole or not at all,
 * progress on a terminal, checked number parsing and allocation. */
#ifndef CXR_CLI_H
#define CXR_CLI_H
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdnoreturn.h>

enum {
	CXR_EXIT_OK = 0,
	CXR_EXIT_DATA = 1,  /* bad data, I/O or system error */
	CXR_EXIT_USAGE = 2, /* bad command line */
};

extern const char *cxr_progname;

/* Sets cxr_progname from argv[0] and installs SIGINT/SIGTERM/SIGHUP/SIGPIPE
 * handling (SIGPIPE and SIGXFSZ ignored: the write fails with EPIPE or
 * EFBIG and takes the error path). By default a signal removes the
 * temporary files of every uncommitted output, then ends the process by
 * that signal (the shell sees a death by signal, status 128+N). With
 * deferred, the handler only records the signal in cxr_stop_signal, and
 * the tool polls it (cxr-train writes a checkpoint first) and then calls
 * cxr_exit_signal(). A second signal stops a deferred tool at once. */
void cxr_init(int argc, char **argv, int deferred);
extern volatile sig_atomic_t cxr_stop_signal;
/* Removes uncommitted outputs, flushes stdio, and ends the process by
 * cxr_stop_signal (SIGTERM if none) with its default action. */
noreturn void cxr_exit_signal(void);

/* "progname: message\n" on stderr. */
void cxr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, then removes uncommitted outputs and exits with status. */
noreturn void cxr_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Usage error: message, a hint to --help, exit 2. */
noreturn void cxr_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Prints "progname VERSION" and exits 0. */
noreturn void cxr_version(void);

/* Library errors: a function that fails returns -1 (or NULL) and leaves a
 * sentence naming the file and record in a thread-local buffer. */
void cxr_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cxr_errmsg(void);
/* cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg()) */
noreturn void cxr_die_err(void);

/* Checked parsing of option values; a bad value is a usage error naming
 * the option. */
long cxr_parse_long(const char *opt, const char *s, long min, long max);
double cxr_parse_double(const char *opt, const char *s, double min, double max);

/* -j default: the number of online cores. */
int cxr_ncores(void);

/* Allocation that dies with a message instead of returning NULL. */
void *cxr_xmalloc(size_t n);
void *cxr_xcalloc(size_t n, size_t size);
void *cxr_xrealloc(void *p, size_t n);
char *cxr_xstrdup(const char *s);
/* malloc(n*size) with overflow check; NULL and an error set on failure. */
void *cxr_alloc_array(size_t n, size_t size);

/* Input: NULL or "-" is stdin. Dies naming the file when it cannot open. */
FILE *cxr_open_in(const char *path);
/* A name for messages: "stdin" for NULL or "-". */
const char *cxr_name(const char *path);

/* The one atomic write, under every file this project writes whole or not
 * at all: a uniquely named temporary file "path.XXXXXX" beside path (so
 * the rename stays in one file system), mode 0666 & ~umask, tracked so
 * that a die or a signal removes it; cxr_atomic_commit() flushes and
 * fsyncs it, renames it over path and fsyncs the directory (best effort).
 * Safe to use from several threads at once. Open gives NULL and commit -1
 * with cxr_errmsg() set; commit and abort remove the temporary file on
 * failure and free a. */
typedef struct cxr_atomic cxr_atomic;
cxr_atomic *cxr_atomic_open(const char *path);
FILE *cxr_atomic_file(cxr_atomic *a);
int cxr_atomic_commit(cxr_atomic *a);
void cxr_atomic_abort(cxr_atomic *a);

/* A tool's output. NULL or "-" is stdout; a device or FIFO is written in
 * place; any other name is a cxr_atomic write, and its failures die. With
 * binary set, stdout on a terminal is refused (usage error). */
typedef struct cxr_out cxr_out;
cxr_out *cxr_out_open(const char *path, int binary);
FILE *cxr_out_file(cxr_out *o);
const char *cxr_out_name(cxr_out *o); /* the final name, for messages */
void cxr_out_commit(cxr_out *o);      /* dies on a write error */
void cxr_out_abort(cxr_out *o);       /* removes the temporary file */

/* A temporary file that a die or a signal removes (a spool); untrack
 * once it is removed or renamed. The slot, or -1 when the table is full. */
int cxr_tmp_track(const char *path);
void cxr_tmp_untrack(int slot);

/* Progress and ETA on stderr, only when stderr is a terminal and not
 * quiet; at most a few updates a second. total 0 means unknown. */
typedef struct cxr_progress {
	const char *what;
	long total, done;
	double start, last;
	int on;
} cxr_progress;
void cxr_progress_start(cxr_progress *p, const char *what, long total, int quiet);
void cxr_progress_update(cxr_progress *p, long done);
void cxr_progress_end(cxr_progress *p);
/* Clears the bar's line (before printing other text); it stays on. */
void cxr_progress_clear(cxr_progress *p);

/* Seconds on a monotonic clock. */
double cxr_now(void);

#endif
