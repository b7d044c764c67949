/* cli — see cli.h. */
#include "base/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hugemem.h"
#include "base/parallel.h"

const char *cxr_progname = "cxr";

/* How long an OpenMP thread that finishes a parallel region spins before
 * it sleeps. libgomp reads the variables when it starts; it is linked
 * statically (see the Makefile) so this constructor, of higher priority,
 * runs first. The user's own setting wins. Every parallel region is ours
 * (OpenBLAS runs on our threads: base/parallel.h) and a forward pass is
 * hundreds of them, microseconds apart: a thread woken by a futex for
 * each costs batch-1 scoring a quarter of its speed. A short spin,
 * GOMP_SPINCOUNT=10000 (a tenth of a millisecond or so), bridges those
 * gaps and still sleeps soon when the tool waits for input. */
__attribute__((constructor(101))) static void omp_wait_policy(void)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	setenv("GOMP_SPINCOUNT", "10000", 0);
}
volatile sig_atomic_t cxr_stop_signal;

/* Temporary files (uncommitted outputs, spools), so that die and signals
 * can remove them. The table is small (a tool has a few outputs, cxr-synth
 * one per thread) and fixed-size so that the signal handler can walk it
 * without locks; threads claim a slot with an atomic exchange (0 free,
 * 2 being filled, 1 in use: the only state the handler acts on). */
#define MAX_OUTS 16
static char out_tmp_names[MAX_OUTS][PATH_MAX];
static volatile sig_atomic_t out_tmp_used[MAX_OUTS];

int cxr_tmp_track(const char *path)
{
	if (strlen(path) >= PATH_MAX)
		return -1;
	for (int i = 0; i < MAX_OUTS; i++) {
		sig_atomic_t free_ = 0;
		if (__atomic_compare_exchange_n(&out_tmp_used[i], &free_, 2, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			strcpy(out_tmp_names[i], path);
			__atomic_store_n(&out_tmp_used[i], 1, __ATOMIC_RELEASE);
			return i;
		}
	}
	return -1;
}

void cxr_tmp_untrack(int slot)
{
	if (slot >= 0 && slot < MAX_OUTS)
		__atomic_store_n(&out_tmp_used[slot], 0, __ATOMIC_RELEASE);
}

static void remove_uncommitted(void)
{
	for (int i = 0; i < MAX_OUTS; i++)
		if (out_tmp_used[i] == 1) {
			unlink(out_tmp_names[i]);
			out_tmp_used[i] = 0;
		}
}

static void on_signal(int sig)
{
	remove_uncommitted();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* In deferred mode a signal must also interrupt the main thread's
 * blocking read (cxr-score waiting on a pipe): the kernel may deliver it
 * to any thread (OpenMP's, OpenBLAS's, the loader's), so a handler run
 * elsewhere passes it on to the main thread once. */
static pthread_t main_thread;
static volatile sig_atomic_t forwarded;

static void on_signal_deferred(int sig)
{
	if (!pthread_equal(pthread_self(), main_thread)) {
		if (cxr_stop_signal && !forwarded)
			goto now; /* a second signal from outside */
		if (!cxr_stop_signal) {
			cxr_stop_signal = sig;
			forwarded = 1;
			pthread_kill(main_thread, sig);
		}
		return;
	}
	if (forwarded) { /* the one passed on: it has done its work */
		forwarded = 0;
		return;
	}
	if (cxr_stop_signal) /* a second signal: stop now */
		goto now;
	cxr_stop_signal = sig;
	return;
now:
	remove_uncommitted();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cxr_init(int argc, char **argv, int deferred)
{
	(void)argc;
	if (argv && argv[0]) {
		const char *s = strrchr(argv[0], '/');
		cxr_progname = s ? s + 1 : argv[0];
	}
	main_thread = pthread_self();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = deferred ? on_signal_deferred : on_signal;
	sigemptyset(&sa.sa_mask);
	/* A signal ignored when we start (nohup, a script's background job)
	 * stays ignored, as the caller meant. */
	int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (int i = 0; i < 3; i++) {
		struct sigaction old;
		if (!sigaction(sigs[i], NULL, &old) && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	/* A closed pipe is a write error we report (or exit quietly on). */
	signal(SIGPIPE, SIG_IGN);
	/* Past a file-size limit (ulimit -f) the kernel would kill us with
	 * SIGXFSZ, leaving temporary files and no message; ignored, the write
	 * fails with EFBIG and takes the error path like a full disk. */
	signal(SIGXFSZ, SIG_IGN);
}

noreturn void cxr_exit_signal(void)
{
	int sig = cxr_stop_signal ? cxr_stop_signal : SIGTERM;
	remove_uncommitted();
	fflush(NULL);
	/* End by the signal itself, not exit(128+N): a shell running us then
	 * knows we were interrupted and stops too (bash's loops and scripts
	 * go on after a child that merely exited 130), and still reports
	 * 128+N as the status. */
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig); /* not reached */
}

static void vwarn(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", cxr_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cxr_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

noreturn void cxr_die(int status, const char *fmt, ...)
{
	va_list ap;
	char msg[1200];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* A reader that went away (`| head`) is no error to report: the
	 * write that found the pipe closed ends the tool with status 1 and
	 * no message, whichever layer noticed it. */
	size_t n = strlen(msg), k = strlen(strerror(EPIPE));
	if (!(status == CXR_EXIT_DATA && n >= k && !strcmp(msg + n - k, strerror(EPIPE))))
		cxr_warn("%s", msg);
	remove_uncommitted();
	exit(status);
}

noreturn void cxr_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", cxr_progname);
	remove_uncommitted();
	exit(CXR_EXIT_USAGE);
}

noreturn void cxr_version(void)
{
	printf("%s %s\n", cxr_progname, CXR_VERSION);
	exit(0);
}

static __thread char errbuf[1024];

void cxr_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
}

const char *cxr_errmsg(void) { return errbuf[0] ? errbuf : "unknown error"; }

noreturn void cxr_die_err(void) { cxr_die(CXR_EXIT_DATA, "%s", cxr_errmsg()); }

long cxr_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		cxr_usage_error("%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		cxr_usage_error("%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
	return v;
}

double cxr_parse_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		cxr_usage_error("%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		cxr_usage_error("%s: %g is out of range [%g, %g]", opt, v, min, max);
	return v;
}

int cxr_ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void *cxr_xmalloc(size_t n)
{
	void *p = cxr_malloc_huge(n);
	if (!p)
		cxr_die(CXR_EXIT_DATA, "out of memory (%zu bytes)", n);
	return p;
}

void *cxr_xcalloc(size_t n, size_t size)
{
	void *p = cxr_calloc_huge(n, size);
	if (!p)
		cxr_die(CXR_EXIT_DATA, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *cxr_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		cxr_die(CXR_EXIT_DATA, "out of memory (%zu bytes)", n);
	cxr_advise_huge(p, n);
	return p;
}

char *cxr_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		cxr_die(CXR_EXIT_DATA, "out of memory");
	return p;
}

void *cxr_alloc_array(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		cxr_seterr("allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	void *p = malloc(n * size > 0 ? n * size : 1);
	if (!p)
		cxr_seterr("out of memory (%zu bytes)", n * size);
	return p;
}

static int is_stdio(const char *path) { return !path || !strcmp(path, "-"); }

const char *cxr_name(const char *path) { return is_stdio(path) ? "stdin" : path; }

FILE *cxr_open_in(const char *path)
{
	if (is_stdio(path))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		cxr_die(CXR_EXIT_DATA, "%s: %s", path, strerror(errno));
	return f;
}

/* ---- atomic writes: the one implementation ---- */

/* The process umask, so that outputs get the usual 0666 & ~umask mode
 * although mkstemp creates them 0600. Read once: umask() can only be read
 * by setting it, which threads writing at once must not race on. */
static mode_t umask_value;
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;
static void umask_read(void)
{
	umask_value = umask(022);
	umask(umask_value);
}

struct cxr_atomic {
	FILE *f;
	char *path;
	char tmp[PATH_MAX];
	int slot;
};

cxr_atomic *cxr_atomic_open(const char *path)
{
	cxr_atomic *a = cxr_xcalloc(1, sizeof *a);
	if (snprintf(a->tmp, sizeof a->tmp, "%s.XXXXXX", path) >= (int)sizeof a->tmp) {
		cxr_seterr("%s: file name too long", path);
		free(a);
		return NULL;
	}
	int fd = mkstemp(a->tmp);
	if (fd < 0) {
		cxr_seterr("%s: cannot create temporary file: %s", path, strerror(errno));
		free(a);
		return NULL;
	}
	a->slot = cxr_tmp_track(a->tmp); /* a die or a signal now removes it */
	pthread_once(&umask_once, umask_read);
	fchmod(fd, 0666 & ~umask_value);
	a->f = fdopen(fd, "wb");
	if (!a->f) {
		cxr_seterr("%s: %s", path, strerror(errno));
		close(fd);
		unlink(a->tmp);
		cxr_tmp_untrack(a->slot);
		free(a);
		return NULL;
	}
	a->path = cxr_xstrdup(path);
	return a;
}

FILE *cxr_atomic_file(cxr_atomic *a) { return a->f; }

/* Makes a rename in path's directory durable. Best effort: a directory
 * that cannot be opened for reading, or a file system that cannot sync
 * one, still has the file in place, which is what the caller asked for. */
static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void atomic_free(cxr_atomic *a)
{
	cxr_tmp_untrack(a->slot);
	free(a->path);
	free(a);
}

int cxr_atomic_commit(cxr_atomic *a)
{
	int closed = 0;
	if (fflush(a->f) || ferror(a->f) || fsync(fileno(a->f)) || (closed = 1, fclose(a->f))) {
		cxr_seterr("%s: write error: %s", a->path, strerror(errno));
		goto fail;
	}
	if (rename(a->tmp, a->path)) {
		cxr_seterr("%s: cannot rename %s into place: %s", a->path, a->tmp,
			   strerror(errno));
		goto fail;
	}
	sync_dir(a->path);
	atomic_free(a);
	return 0;
fail:
	if (!closed)
		fclose(a->f);
	unlink(a->tmp);
	atomic_free(a);
	return -1;
}

void cxr_atomic_abort(cxr_atomic *a)
{
	fclose(a->f);
	unlink(a->tmp);
	atomic_free(a);
}

/* ---- tool outputs ---- */

struct cxr_out {
	FILE *f;
	cxr_atomic *a;     /* NULL for stdout and for direct */
	int direct;        /* written in place (not a regular file) */
	const char *name;  /* for messages: the path, or "stdout" */
};

cxr_out *cxr_out_open(const char *path, int binary)
{
	cxr_out *o = cxr_xcalloc(1, sizeof *o);
	o->name = is_stdio(path) ? "stdout" : path;
	if (is_stdio(path)) {
		if (binary && isatty(STDOUT_FILENO))
			cxr_usage_error("refusing to write binary data to a terminal; use -o FILE or a pipe");
		o->f = stdout;
		return o;
	}
	/* A device or a FIFO (-o /dev/null, -o /dev/stdout) is written in
	 * place: renaming a file over it would replace the device. */
	struct stat st;
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "wb");
		if (!o->f)
			cxr_die(CXR_EXIT_DATA, "%s: %s", path, strerror(errno));
		if (binary && isatty(fileno(o->f)))
			cxr_usage_error("refusing to write binary data to a terminal");
		o->direct = 1;
		return o;
	}
	if (!(o->a = cxr_atomic_open(path)))
		cxr_die_err();
	o->f = cxr_atomic_file(o->a);
	return o;
}

FILE *cxr_out_file(cxr_out *o) { return o->f; }

const char *cxr_out_name(cxr_out *o) { return o->a ? o->a->path : o->name; }

void cxr_out_commit(cxr_out *o)
{
	if (o->direct) {
		if (fclose(o->f)) {
			if (errno == EPIPE) /* a reader that went away: quietly */
				exit(CXR_EXIT_DATA);
			cxr_die(CXR_EXIT_DATA, "%s: write error: %s", o->name, strerror(errno));
		}
	} else if (!o->a) {
		if (fflush(o->f) || ferror(o->f)) {
			if (errno == EPIPE)
				exit(CXR_EXIT_DATA);
			cxr_die(CXR_EXIT_DATA, "stdout: write error: %s", strerror(errno));
		}
	} else if (cxr_atomic_commit(o->a)) {
		cxr_die_err();
	}
	free(o);
}

void cxr_out_abort(cxr_out *o)
{
	if (o->direct)
		fclose(o->f);
	if (o->a)
		cxr_atomic_abort(o->a);
	free(o);
}

double cxr_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cxr_progress_start(cxr_progress *p, const char *what, long total, int quiet)
{
	memset(p, 0, sizeof *p);
	p->what = what;
	p->total = total;
	p->start = cxr_now();
	p->on = !quiet && isatty(STDERR_FILENO);
}

void cxr_progress_update(cxr_progress *p, long done)
{
	p->done = done;
	if (!p->on)
		return;
	double t = cxr_now();
	if (t - p->last < 0.25 && done != p->total)
		return;
	p->last = t;
	double el = t - p->start, rate = el > 0 ? done / el : 0;
	if (p->total > 0) {
		double eta = rate > 0 ? (p->total - done) / rate : 0;
		fprintf(stderr, "\r%s: %s %ld/%ld (%.0f%%) %.1f/s ETA %dm%02ds ", cxr_progname,
			p->what, done, p->total, 100.0 * done / p->total, rate, (int)eta / 60,
			(int)eta % 60);
	} else {
		fprintf(stderr, "\r%s: %s %ld %.1f/s ", cxr_progname, p->what, done, rate);
	}
}

void cxr_progress_clear(cxr_progress *p)
{
	if (p->on)
		fputs("\r\033[K", stderr);
}

void cxr_progress_end(cxr_progress *p)
{
	if (p->on)
		fputs("\r\033[K", stderr);
	p->on = 0;
}
