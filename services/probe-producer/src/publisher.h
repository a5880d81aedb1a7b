/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JetStream publisher of the probe producer: async publishes with a Nats-Msg-Id header, a bounded retry queue for
 * publishes that failed or whose PubAck was negative / timed out (republished with the same id, so the stream's
 * duplicate window drops copies), reconnect forever. Never blocks the caller for long.
 */
#ifndef AGENTSIGHT_PUBLISHER_H
#define AGENTSIGHT_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

struct publisher;

/** Publisher counters since start. */
struct publisher_stats {
	uint64_t published;    /* records acknowledged by JetStream */
	uint64_t failures;     /* records dropped for good (queue overflow, shutdown deadline, permanent error) */
	uint64_t queued;       /* records waiting in the retry queue */
	uint64_t queued_bytes; /* bytes waiting in the retry queue */
	uint64_t in_flight;    /* records sent, PubAck not yet received */
	uint64_t reordered;    /* records stored behind a later record of their subject (after a retry) */
};

/**
 * Connects to url (retrying in the background when the server is down) and creates the AGENTSIGHT_RAW stream if
 * missing. queue_max_bytes bounds the retry queue (bytes of message data). Returns NULL on a fatal error.
 */
struct publisher *publisher_create(const char *url, size_t queue_max_bytes);

/** Publishes data (len bytes) on subject with header Nats-Msg-Id: msg_id; queues it when it cannot be sent now. */
void publisher_publish(struct publisher *p, const char *subject, const char *msg_id, const void *data, size_t len);

/** Retries queued records and a missing stream; cheap when there is nothing to do. Call often. */
void publisher_pump(struct publisher *p);

/**
 * Sends everything queued and waits for every PubAck, at most timeout_ms ms. On timeout the records still queued
 * or unacknowledged are counted as failures. Returns 0 when everything was acknowledged, -1 otherwise.
 */
int publisher_flush(struct publisher *p, int64_t timeout_ms);

/** Copies the counters. */
void publisher_get_stats(struct publisher *p, struct publisher_stats *out);

/** Closes the connection and frees everything (unsent records are counted as failures first). */
void publisher_destroy(struct publisher *p);

#endif
