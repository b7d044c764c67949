/* fuzz_nihcsv — the NIH label CSV reader (lib/data/nihcsv.h, libcsv):
 * the header, then every row, from a FILE without a descriptor. Each input
 * is read twice: strictly (stopping at the first malformed row) and with
 * CXR_NIHCSV_SKIP_BAD (on to the end); warnings are off. */
#include "data/nihcsv.h"
#include "fuzz.h"

static void read_csv(const uint8_t *data, size_t size, int flags)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_nihcsv *r = cxr_nihcsv_open(f, "fuzz.csv", flags | CXR_NIHCSV_QUIET);
	if (!r) {
		fuzz_touch_str(cxr_errmsg());
		fclose(f);
		return;
	}
	cxr_sample m;
	cxr_sample_init(&m);
	int rc;
	long rows = 0;
	while ((rc = cxr_nihcsv_next(r, &m)) == 1) {
		rows++;
		if (!m.image || !*m.image || !m.patient || !m.findings || !m.view)
			abort();
		if (strpbrk(m.image, "\t\r\n") || strpbrk(m.findings, "\t\r\n") ||
		    strpbrk(m.view, "\t\r\n"))
			abort(); /* nihcsv.h: no tab or line break goes to the manifest */
		fuzz_touch_str(m.image);
		fuzz_touch_str(m.findings);
		fuzz_touch_str(m.patient);
		fuzz_touch_str(m.view);
		(void)cxr_nihcsv_lineno(r);
	}
	if (rc < 0)
		fuzz_touch_str(cxr_errmsg());
	if (cxr_nihcsv_nrows(r) != rows || cxr_nihcsv_nskipped(r) < 0 || cxr_nihcsv_nwarnings(r) < 0)
		abort();
	cxr_sample_free(&m);
	cxr_nihcsv_close(r);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_csv(data, size, 0);
	read_csv(data, size, CXR_NIHCSV_SKIP_BAD);
	return 0;
}
