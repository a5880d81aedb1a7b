/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pacing of the ring-buffer reader: how long the producer sleeps between two drains (the poll window) and how much
 * one uninterrupted burst may handle (a slice). Records are submitted with BPF_RB_NO_WAKEUP, so the window is both
 * the largest delay of a low-rate record and the size of the next burst: at a high record rate a long window makes
 * one long burst of handling and publishing (and of NATS storing) that holds a core while the traced process or its
 * peer wants it; at a low rate a short window only costs wake-ups. The window therefore follows the load, and a
 * drain is cut into slices with a yield of the CPU between them. Pure functions, no I/O.
 */
#ifndef AGENTSIGHT_PACING_H
#define AGENTSIGHT_PACING_H

#include <stdbool.h>
#include <stdint.h>

#define PACING_MIN_MS 2                 /* shortest poll window (heavy load), ms */
#define PACING_MAX_MS 50                /* longest poll window (idle) = the largest delay of a low-rate record, ms */
#define PACING_TARGET 32                /* records per window the adaptation aims at */
#define PACING_SLICE_RECORDS 64         /* records handled in one burst before the CPU is yielded */
#define PACING_SLICE_BYTES (256u << 10) /* ring-buffer bytes handled in one burst before the CPU is yielded */

/**
 * The next poll window, ms, in [PACING_MIN_MS, PACING_MAX_MS], from the current one (`window_ms`) and the records the
 * drain after it handled (`records`): more than PACING_TARGET records shrinks it in proportion (a rate step is
 * followed within one window), fewer than a quarter of it grows it by half (+1 ms), so an idle producer is back at
 * PACING_MAX_MS within about ten windows.
 */
uint32_t pacing_next_window(uint32_t window_ms, uint64_t records);

/**
 * True when a burst that has handled `records` records of `bytes` ring-buffer bytes has reached a slice
 * (PACING_SLICE_RECORDS or PACING_SLICE_BYTES): the reader stops there, yields the CPU and goes on.
 */
bool pacing_slice_full(uint64_t records, uint64_t bytes);

#endif
