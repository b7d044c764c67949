/* crc32c — bytewise table CRC-32C; the index it guards is small, so the
 * table version is fast enough and portable to any x86-64. */
#include "base/crc32c.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
}

uint32_t cxr_crc32c(uint32_t crc, const void *buf, size_t n)
{
	pthread_once(&once, make_table);
	const unsigned char *p = buf;
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
