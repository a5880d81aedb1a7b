// SPDX-License-Identifier: Apache-2.0
#include "publisher.h"
#include "topology.h" /* generated from libs/contracts/src/topology.ts */

#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBACK_WAIT_MS 10000 /* a PubAck not received within this is an error -> retry */
#define MAX_PENDING 8192     /* async publishes in flight */
#define STALL_WAIT_MS 5      /* wait in js_PublishMsgAsync when MAX_PENDING is reached, then queue */
#define PUMP_BUDGET_MS 20    /* time one publisher_pump may spend republishing */
#define STREAM_RETRY_MS 3000

struct qnode {
	natsMsg *msg;
	uint64_t seq; /* the record's sequence (last field of its Nats-Msg-Id): the queue is kept in this order */
	struct qnode *next;
};

struct publisher {
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	jsPubOptions pubopts;
	volatile bool stream_ok;
	volatile bool closing; /* set by publisher_destroy: disconnects are expected */
	/*
	 * Order keeping (a consumer reads each subject in stream order, and the parser takes a record stored behind a
	 * later one of its connection for a duplicate: the bytes were lost without a counter). Nothing is sent between
	 * a disconnect and the end of on_reconnected (`disconnects` != `reconnects`: the connection is usable a moment
	 * before that callback has put the publishes in flight at the disconnect back in the queue; measured: record 40
	 * stored behind 41 after a nats-server SIGKILL), nor while `recovering` (a publish failed: until every publish
	 * in flight has its outcome, so the failed ones go out again before anything newer). Both counters are written
	 * by the callbacks only (one nats.c thread, in order).
	 */
	volatile uint64_t disconnects, reconnects;
	bool recovering;
	int64_t next_stream_try_ms;

	pthread_mutex_t lock; /* protects the queue and the counters below (ack handler runs in a nats thread) */
	struct qnode *head, *tail;
	struct qnode *last_insert; /* where queue_insert_locked last put a record (failures come mostly in order) */
	uint64_t queued, queued_bytes;
	size_t queue_max_bytes;
	uint64_t published, failures, sent, acked_or_failed;
	/* Out-of-order storage detection: per subject, the highest record sequence (the last field of the Nats-Msg-Id)
	 * JetStream acknowledged as newly stored. PubAcks of one connection come in storage order, so a new (not
	 * duplicate) one below it means the record was stored behind a later one of its subject (a retry after a failed
	 * publish went out behind newer records): consumers reading the subject in order see it late. */
	struct {
		char subject[96];
		uint64_t max_seq;
	} lanes[64];
	int nlanes;
	uint64_t reordered;
};

/* Records a newly stored record of subject with Nats-Msg-Id id; counts it when stored behind a later one. Caller
 * holds p->lock. */
static void note_stored_locked(struct publisher *p, const char *subject, const char *id)
{
	const char *colon = id ? strrchr(id, ':') : NULL;
	uint64_t seq;
	int i;

	if (!subject || !colon)
		return;
	seq = strtoull(colon + 1, NULL, 10);
	for (i = 0; i < p->nlanes && strcmp(p->lanes[i].subject, subject); i++)
		;
	if (i == p->nlanes) {
		if (p->nlanes == (int)(sizeof(p->lanes) / sizeof(p->lanes[0])) ||
		    strlen(subject) >= sizeof(p->lanes[0].subject))
			return;
		snprintf(p->lanes[i].subject, sizeof(p->lanes[i].subject), "%s", subject);
		p->lanes[i].max_seq = seq;
		p->nlanes++;
		return;
	}
	if (seq >= p->lanes[i].max_seq) {
		p->lanes[i].max_seq = seq;
		return;
	}
	if (p->reordered++ < 5)
		fprintf(stderr,
			"agentsight-probe: record %s stored on %s behind a later one (%llu): out of order after a "
			"retry\n",
			id, subject, (unsigned long long)p->lanes[i].max_seq);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The record sequence of msg: the last ':'-separated field of its Nats-Msg-Id (0 without one). */
static uint64_t seq_of(natsMsg *msg)
{
	const char *id = NULL, *colon;

	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || !id || !(colon = strrchr(id, ':')))
		return 0;
	return strtoull(colon + 1, NULL, 10);
}

/* Appends (or prepends) msg to the retry queue; when the queue is full the oldest records are dropped and
 * counted as failures. Takes ownership of msg. Caller holds p->lock. */
static void queue_push_locked(struct publisher *p, natsMsg *msg, bool front)
{
	struct qnode *n = malloc(sizeof(*n));
	size_t len = (size_t)natsMsg_GetDataLength(msg);

	if (!n) {
		natsMsg_Destroy(msg);
		p->failures++;
		return;
	}
	n->msg = msg;
	n->seq = seq_of(msg);
	n->next = NULL;
	if (front) {
		n->next = p->head;
		p->head = n;
		if (!p->tail)
			p->tail = n;
	} else {
		if (p->tail)
			p->tail->next = n;
		else
			p->head = n;
		p->tail = n;
	}
	p->queued++;
	p->queued_bytes += len;
	while (p->queued_bytes > p->queue_max_bytes && p->head && p->head != n) {
		struct qnode *old = p->head;

		p->head = old->next;
		if (!p->head)
			p->tail = NULL;
		if (p->last_insert == old)
			p->last_insert = NULL;
		p->queued--;
		p->queued_bytes -= (size_t)natsMsg_GetDataLength(old->msg);
		p->failures++;
		natsMsg_Destroy(old->msg);
		free(old);
	}
}

/* Puts msg (a failed publish) into the retry queue at its place by record sequence, behind older records and ahead
 * of newer ones; takes ownership. Caller holds p->lock. */
static void queue_insert_locked(struct publisher *p, natsMsg *msg)
{
	uint64_t seq = seq_of(msg);
	struct qnode *prev = NULL, *cur, *n;

	if (!p->head || seq < p->head->seq) {
		queue_push_locked(p, msg, true);
		p->last_insert = p->head;
		return;
	}
	if (p->tail->seq <= seq) {
		queue_push_locked(p, msg, false);
		p->last_insert = p->tail;
		return;
	}
	cur = p->head;
	if (p->last_insert && p->last_insert->seq <= seq)
		cur = p->last_insert;
	while (cur && cur->seq <= seq) {
		prev = cur;
		cur = cur->next;
	}
	/* prev->seq <= seq < cur->seq: between them (prev is set: seq >= head's) */
	n = malloc(sizeof(*n));
	if (!n) {
		natsMsg_Destroy(msg);
		p->failures++;
		return;
	}
	n->msg = msg;
	n->seq = seq;
	n->next = cur;
	prev->next = n;
	p->queued++;
	p->queued_bytes += (size_t)natsMsg_GetDataLength(msg);
	p->last_insert = n;
}

static natsMsg *queue_pop_locked(struct publisher *p)
{
	struct qnode *n = p->head;
	natsMsg *m;

	if (!n)
		return NULL;
	p->head = n->next;
	if (!p->head)
		p->tail = NULL;
	if (p->last_insert == n)
		p->last_insert = NULL;
	p->queued--;
	p->queued_bytes -= (size_t)natsMsg_GetDataLength(n->msg);
	m = n->msg;
	free(n);
	return m;
}

/* PubAck (or error / ack timeout) of one async publish; runs in a nats.c thread. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct publisher *p = closure;

	(void)js;
	pthread_mutex_lock(&p->lock);
	p->acked_or_failed++;
	if (pa) {
		p->published++;
		if (!pa->Duplicate) {
			const char *id = NULL;

			natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
			note_stored_locked(p, natsMsg_GetSubject(msg), id);
		}
		natsMsg_Destroy(msg);
	} else {
		/* Negative ack or timeout: retry with the same Nats-Msg-Id, in its place by sequence, before anything
		 * newer is sent (recovering). */
		if (pae && p->failures + p->published < 20)
			fprintf(stderr, "agentsight-probe: publish to %s failed (%s), will retry\n",
				natsMsg_GetSubject(msg), pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
		p->recovering = true;
		queue_insert_locked(p, msg);
	}
	pthread_mutex_unlock(&p->lock);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct publisher *p = closure;

	(void)nc;
	p->disconnects++;
	if (!p->closing)
		fprintf(stderr, "agentsight-probe: NATS disconnected, buffering\n");
}

/* After a reconnect the PubAcks of publishes in flight at the disconnect never come: requeue those publishes at the
 * front of the retry queue now (same Nats-Msg-Id, so the ones the server did store are dropped as duplicates). */
static void on_reconnected(natsConnection *nc, void *closure)
{
	struct publisher *p = closure;
	natsMsgList pending;
	int i;

	(void)nc;
	fprintf(stderr, "agentsight-probe: NATS reconnected\n");
	p->stream_ok = false; /* a restarted server may have lost the stream: js_AddStream again (idempotent) */
	if (!p->js || js_PublishAsyncGetPendingList(&pending, p->js) != NATS_OK) {
		p->reconnects = p->disconnects;
		return;
	}
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < pending.Count; i++) {
		queue_insert_locked(p, pending.Msgs[i]);
		pending.Msgs[i] = NULL;
		p->acked_or_failed++;
	}
	pthread_mutex_unlock(&p->lock);
	p->reconnects = p->disconnects;
	fprintf(stderr, "agentsight-probe: %d unacknowledged publishes requeued\n", pending.Count);
	natsMsgList_Destroy(&pending);
}

static void ensure_stream(struct publisher *p)
{
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = { RAW_STREAM_SUBJECT };
	natsStatus s;

	if (p->stream_ok || natsConnection_Status(p->nc) != NATS_CONN_STATUS_CONNECTED ||
	    now_ms() < p->next_stream_try_ms)
		return;
	jsStreamConfig_Init(&cfg);
	cfg.Name = RAW_STREAM_NAME;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.MaxAge = RAW_STREAM_MAX_AGE_NS;
	cfg.MaxBytes = RAW_STREAM_MAX_BYTES;
	cfg.Duplicates = STREAM_DUPLICATE_WINDOW_NS;
	cfg.Replicas = STREAM_REPLICAS;
	s = js_AddStream(&si, p->js, &cfg, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNameExistErr) {
		/* Created, or it exists (possibly with another config, which we then use as is). */
		p->stream_ok = true;
	} else {
		fprintf(stderr, "agentsight-probe: cannot create stream %s: %s (%d); will retry\n", RAW_STREAM_NAME,
			natsStatus_GetText(s), (int)jerr);
		p->next_stream_try_ms = now_ms() + STREAM_RETRY_MS;
	}
	jsStreamInfo_Destroy(si);
}

/* The URL setting may list a cluster's seed servers separated by commas: nats.c takes them as a list
 * (natsOptions_SetServers copies the strings), not as one string. Blanks around entries are dropped. */
static natsStatus set_servers(natsOptions *opts, const char *url)
{
	const char *servers[32];
	char *copy = strdup(url), *save = NULL, *tok;
	int n = 0;
	natsStatus s;

	if (!copy)
		return NATS_NO_MEMORY;
	for (tok = strtok_r(copy, ",", &save); tok && n < 32; tok = strtok_r(NULL, ",", &save)) {
		size_t len;
		while (*tok == ' ')
			tok++;
		len = strlen(tok);
		while (len && tok[len - 1] == ' ')
			tok[--len] = '\0';
		if (*tok)
			servers[n++] = tok;
	}
	s = n ? natsOptions_SetServers(opts, servers, n) : NATS_INVALID_ARG;
	free(copy);
	return s;
}

struct publisher *publisher_create(const char *url, size_t queue_max_bytes)
{
	struct publisher *p = calloc(1, sizeof(*p));
	jsOptions jo;
	natsStatus s;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->queue_max_bytes = queue_max_bytes;

	s = natsOptions_Create(&p->opts);
	if (s == NATS_OK)
		s = set_servers(p->opts, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(p->opts, "agentsight-probe");
	/* Credentials come from the environment (never argv, which every local user can read in /proc):
	 * NATS_CREDS = a .creds file (user JWT + nkey seed), else NATS_USER / NATS_PASSWORD. */
	if (s == NATS_OK && getenv("NATS_CREDS") && *getenv("NATS_CREDS"))
		s = natsOptions_SetUserCredentialsFromFiles(p->opts, getenv("NATS_CREDS"), NULL);
	else if (s == NATS_OK && getenv("NATS_USER") && *getenv("NATS_USER"))
		s = natsOptions_SetUserInfo(p->opts, getenv("NATS_USER"),
					    getenv("NATS_PASSWORD") ? getenv("NATS_PASSWORD") : "");
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(p->opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(p->opts, -1); /* forever */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(p->opts, 500);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(p->opts, 5000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(p->opts, 3);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(p->opts, true, NULL, NULL);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(p->opts, on_disconnected, p);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(p->opts, on_reconnected, p);
	if (s != NATS_OK) {
		fprintf(stderr, "agentsight-probe: NATS options: %s\n", natsStatus_GetText(s));
		goto fail;
	}
	s = natsConnection_Connect(&p->nc, p->opts);
	if (s == NATS_NOT_YET_CONNECTED) {
		fprintf(stderr, "agentsight-probe: NATS at %s not reachable yet; buffering and retrying\n", url);
	} else if (s != NATS_OK) {
		fprintf(stderr, "agentsight-probe: NATS connect %s: %s\n", url, natsStatus_GetText(s));
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.Wait = 3000;
	jo.PublishAsync.MaxPending = MAX_PENDING;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = p;
	jo.PublishAsync.StallWait = STALL_WAIT_MS;
	s = natsConnection_JetStream(&p->js, p->nc, &jo);
	if (s != NATS_OK) {
		fprintf(stderr, "agentsight-probe: JetStream context: %s\n", natsStatus_GetText(s));
		goto fail;
	}
	jsPubOptions_Init(&p->pubopts);
	p->pubopts.MaxWait = PUBACK_WAIT_MS;
	ensure_stream(p);
	return p;
fail:
	if (p->nc)
		natsConnection_Destroy(p->nc);
	natsOptions_Destroy(p->opts);
	free(p);
	return NULL;
}

/* Whether records may go out now (see `disconnects`, `recovering`); ends a recovery once nothing is in flight. */
static bool may_send(struct publisher *p)
{
	bool ok;

	if (natsConnection_Status(p->nc) != NATS_CONN_STATUS_CONNECTED || p->disconnects != p->reconnects)
		return false;
	pthread_mutex_lock(&p->lock);
	if (p->recovering && p->sent == p->acked_or_failed)
		p->recovering = false;
	ok = !p->recovering;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

/* Sends one message; on success the library owns it. Returns false (msg still ours) when it must be retried. */
static bool try_send(struct publisher *p, natsMsg **msg)
{
	natsStatus s;

	if (!may_send(p))
		return false;
	s = js_PublishMsgAsync(p->js, msg, &p->pubopts);
	if (s == NATS_OK) {
		pthread_mutex_lock(&p->lock);
		p->sent++;
		pthread_mutex_unlock(&p->lock);
		return true;
	}
	return false;
}

void publisher_publish(struct publisher *p, const char *subject, const char *msg_id, const void *data, size_t len)
{
	natsMsg *msg = NULL;
	bool queue_empty;

	if (natsMsg_Create(&msg, subject, NULL, data, (int)len) != NATS_OK ||
	    natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id) != NATS_OK) {
		natsMsg_Destroy(msg);
		pthread_mutex_lock(&p->lock);
		p->failures++;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_lock(&p->lock);
	queue_empty = p->head == NULL;
	pthread_mutex_unlock(&p->lock);
	/* Keep order: while older records wait for a retry, newer ones queue behind them. */
	if (queue_empty && try_send(p, &msg))
		return;
	pthread_mutex_lock(&p->lock);
	queue_push_locked(p, msg, false);
	pthread_mutex_unlock(&p->lock);
}

void publisher_pump(struct publisher *p)
{
	int64_t deadline = now_ms() + PUMP_BUDGET_MS;
	natsMsg *msg;

	ensure_stream(p);
	while (natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED && now_ms() < deadline) {
		pthread_mutex_lock(&p->lock);
		msg = queue_pop_locked(p);
		pthread_mutex_unlock(&p->lock);
		if (!msg)
			break;
		if (!try_send(p, &msg)) {
			pthread_mutex_lock(&p->lock);
			queue_push_locked(p, msg, true);
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
}

int publisher_flush(struct publisher *p, int64_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct publisher_stats st;
	natsMsgList pending;
	int i;

	for (;;) {
		publisher_pump(p);
		publisher_get_stats(p, &st);
		if (st.queued == 0 && st.in_flight == 0)
			return 0;
		if (now_ms() >= deadline)
			break;
		if (st.in_flight > 0) {
			jsPubOptions o;

			jsPubOptions_Init(&o);
			o.MaxWait = 100;
			js_PublishAsyncComplete(p->js, &o);
		} else {
			struct timespec ts = { 0, 20 * 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	/* Deadline: what is still queued or unacknowledged is lost for good. */
	pthread_mutex_lock(&p->lock);
	while (p->head) {
		natsMsg *m = queue_pop_locked(p);

		natsMsg_Destroy(m);
		p->failures++;
	}
	pthread_mutex_unlock(&p->lock);
	if (js_PublishAsyncGetPendingList(&pending, p->js) == NATS_OK) {
		pthread_mutex_lock(&p->lock);
		for (i = 0; i < pending.Count; i++) {
			p->failures++;
			p->acked_or_failed++;
		}
		pthread_mutex_unlock(&p->lock);
		natsMsgList_Destroy(&pending);
	}
	return -1;
}

void publisher_get_stats(struct publisher *p, struct publisher_stats *out)
{
	pthread_mutex_lock(&p->lock);
	out->published = p->published;
	out->failures = p->failures;
	out->queued = p->queued;
	out->queued_bytes = p->queued_bytes;
	out->in_flight = p->sent - p->acked_or_failed;
	out->reordered = p->reordered;
	pthread_mutex_unlock(&p->lock);
}

void publisher_destroy(struct publisher *p)
{
	if (!p)
		return;
	publisher_flush(p, 0);
	p->closing = true;
	jsCtx_Destroy(p->js);
	natsConnection_Destroy(p->nc);
	natsOptions_Destroy(p->opts);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
