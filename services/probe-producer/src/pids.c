// SPDX-License-Identifier: Apache-2.0
/*
 * What the producer keeps per traced process and per TLS connection direction (pids.h).
 */
#include <stdlib.h>

#include "attach_pid.h"
#include "pids.h"
#include "producer.h"
#include "shutdown.h"

/* ---- per-process / per-connection state ---- */

struct pidinfo *pid_get(uint32_t pid, bool create)
{
	struct pidinfo **b = &g.pids[pid % PID_BUCKETS], *p;

	for (p = *b; p; p = p->next)
		if (p->pid == pid)
			return p;
	if (!create)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		die("out of memory");
	p->pid = pid;
	p->next = *b;
	*b = p;
	return p;
}

void pid_remove(uint32_t pid)
{
	struct pidinfo **pp = &g.pids[pid % PID_BUCKETS], *p;

	for (; (p = *pp); pp = &p->next) {
		if (p->pid == pid) {
			*pp = p->next;
			detach_pid(p);
			free(p->tgts);
			while (p->conns) {
				struct conn *c = p->conns;

				p->conns = c->next;
				free(c);
			}
			free(p);
			return;
		}
	}
}

struct conn *conn_get(struct pidinfo *pi, uint64_t ssl, uint8_t dir)
{
	struct conn **pp, *c;

	for (pp = &pi->conns; (c = *pp); pp = &c->next) {
		if (c->ssl == ssl && c->dir == dir) {
			*pp = c->next; /* move to front: active connections stay cheap to find */
			c->next = pi->conns;
			pi->conns = c;
			return c;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");
	c->ssl = ssl;
	c->dir = dir;
	c->next = pi->conns;
	pi->conns = c;
	return c;
}
