/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keep-alive HTTP clients of "serve --mode http", driven from one thread: each sends a GET
 * every period on its own connection; one whose answer says Connection: close closes and
 * opens a new connection for its next GET. Anything else is an error the tests count: a
 * refused or reset connection, an answer not 200, a close the server did not announce.
 */
#ifndef RLBT_KEEPALIVE_H
#define RLBT_KEEPALIVE_H

#include <stdbool.h>
#include <stdint.h>

struct rlbt_ka_client {
	int fd;
	char buf[1024];
	size_t len;
	bool waiting;	     /* a GET is out, its answer not read whole yet */
	long next_ms;	     /* when to send the next GET */
	long first_close_ms; /* rlbt_now_ms() of the first Connection: close it read, 0: none */
	unsigned long answers_since_close; /* answers on the connection opened after a close */
};

struct rlbt_ka_fleet {
	struct rlbt_ka_client *c;
	unsigned int n;
	uint16_t port;
	int period_ms;
	unsigned long errors, reconnects, answers, closes;
};

/* n clients of 127.0.0.1:port, none connected yet (the first turn connects them). */
int rlbt_ka_init(struct rlbt_ka_fleet *f, unsigned int n, uint16_t port, int period_ms);
/* One turn, at most 10 ms: reads what came, sends what is due. */
void rlbt_ka_turn(struct rlbt_ka_fleet *f);
void rlbt_ka_free(struct rlbt_ka_fleet *f);

#endif
