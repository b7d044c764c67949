/* sanitize_hook — linked into every program under `make SANITIZE=1`.
 *
 * With gcc, -fsanitize=address,undefined loads two runtimes, libasan and
 * libubsan, each with its own copy of the report machinery; libubsan then
 * ignores UBSAN_OPTIONS=log_path and prints to stderr only, where a test
 * that expects a failure or drops stderr would hide it. This points
 * libubsan's own copy at CXR_SAN_LOGS/ubsan.PID, as ASAN_OPTIONS=log_path
 * does for ASan and LSan, so tests/fuzz/t-sanitizer-logs.sh sees every
 * report. Without CXR_SAN_LOGS, or without libubsan (clang links one
 * runtime that honours log_path), it does nothing. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void cxr_ubsan_log_path(void)
{
	static char path[4096];
	const char *dir = getenv("CXR_SAN_LOGS");
	void *h = dir && *dir ? dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD) : NULL;
	if (!h)
		return;
	void (*set)(const char *) = (void (*)(const char *))dlsym(h, "__sanitizer_set_report_path");
	if (set) {
		snprintf(path, sizeof path, "%s/ubsan", dir);
		set(path);
	}
}
