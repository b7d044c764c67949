/* crc32c — CRC-32C (Castagnoli), the checksum of the pack index. */
#ifndef CXR_CRC32C_H
#define CXR_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes; start with crc = 0. */
uint32_t cxr_crc32c(uint32_t crc, const void *buf, size_t n);

#endif
