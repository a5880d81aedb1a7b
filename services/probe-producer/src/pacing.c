// SPDX-License-Identifier: Apache-2.0
#include "pacing.h"

uint32_t pacing_next_window(uint32_t window_ms, uint64_t records)
{
	uint64_t w = window_ms;

	if (w < PACING_MIN_MS)
		w = PACING_MIN_MS;
	if (w > PACING_MAX_MS)
		w = PACING_MAX_MS;
	if (records > PACING_TARGET)
		w = w * PACING_TARGET / records;
	else if (records < PACING_TARGET / 4)
		w = w + w / 2 + 1;
	if (w < PACING_MIN_MS)
		w = PACING_MIN_MS;
	if (w > PACING_MAX_MS)
		w = PACING_MAX_MS;
	return (uint32_t)w;
}

bool pacing_slice_full(uint64_t records, uint64_t bytes)
{
	return records >= PACING_SLICE_RECORDS || bytes >= PACING_SLICE_BYTES;
}
