// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The hash policy keeps a 4-tuple on one worker and spreads different 4-tuples.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy hash.
 * 2. Connect 20 times with the same 4-tuple 127.0.0.1:P -> 127.0.0.1:port (P a free port;
 *    SO_REUSEADDR and a linger-0 close let the same tuple connect again at once). Every
 *    connection reaches the same worker.
 * 3. Connect 200 times from ephemeral source ports: the connections reach at least 3 of the 4
 *    workers (source-ip would put them all on one, as the source address never changes).
 * 4. Every connection of steps 2 and 3 reached the worker hash.h predicts,
 *    rlb_scale(rlb_hash_flow(flow, seed), 4), with the seed read from the kernel's config map.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_SAME 20
#define NR_SPREAD 200

struct outcome {
	uint16_t sport;
	int worker;
};

/* One connection from 127.0.0.1:sport (0: ephemeral); records the source port it used. */
static int steer_from(struct rlb_group *g, uint16_t sport, struct outcome *o)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = rlbt_connect(AF_INET, "127.0.0.1", sport, "127.0.0.1", rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect from port %u: %s\n", sport, strerror(-fd));
		return fd;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len)) {
		close(fd);
		return -errno;
	}
	o->sport = ntohs(sin.sin_port);
	o->worker = rlbt_accepting_worker(g, RLBT_TIMEOUT_MS);
	close(fd);
	return o->worker < 0 ? -EIO : 0;
}

static unsigned int predict(const struct rlb_config *cfg, uint16_t sport, uint16_t dport)
{
	struct rlb_flow flow = {};

	inet_pton(AF_INET, "127.0.0.1", &flow.saddr[0]);
	inet_pton(AF_INET, "127.0.0.1", &flow.daddr[0]);
	flow.sport = htons(sport);
	flow.dport = htons(dport);
	return rlb_scale(rlb_hash_flow(&flow, cfg->seed), NR_WORKERS);
}

int main(void)
{
	struct outcome same[NR_SAME], spread[NR_SPREAD];
	int counts[NR_WORKERS] = {}, used = 0, moved = 0, mispredicted = 0, sport, err;
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	uint16_t port;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_HASH, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	port = rlb_group_port(g);
	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map from the kernel: %s", strerror(-err)))
		goto out;

	sport = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(sport > 0, "no free source port: %s", strerror(-sport)))
		goto out;
	for (int i = 0; i < NR_SAME; i++) {
		if (!CHECK(!steer_from(g, sport, &same[i]), "fixed-tuple connection %d failed", i))
			goto out;
		if (same[i].worker != same[0].worker && moved++ == 0)
			fprintf(stderr,
				"connection %d from port %d reached worker %d, the first %d\n", i,
				sport, same[i].worker, same[0].worker);
	}
	CHECK(!moved, "%d of %d connections of one 4-tuple left its worker", moved, NR_SAME);

	for (int i = 0; i < NR_SPREAD; i++) {
		if (!CHECK(!steer_from(g, 0, &spread[i]), "connection %d failed", i))
			goto out;
		counts[spread[i].worker]++;
	}
	for (int w = 0; w < NR_WORKERS; w++)
		used += counts[w] > 0;
	CHECK(used >= 3, "%d source ports reached only %d workers: %d/%d/%d/%d", NR_SPREAD, used,
	      counts[0], counts[1], counts[2], counts[3]);

	for (int i = 0; i < NR_SAME + NR_SPREAD; i++) {
		const struct outcome *o = i < NR_SAME ? &same[i] : &spread[i - NR_SAME];
		unsigned int want = predict(&cfg, o->sport, port);

		if (o->worker != (int)want && mispredicted++ == 0)
			fprintf(stderr, "port %u reached worker %d, hash.h predicts %u\n", o->sport,
				o->worker, want);
	}
	CHECK(!mispredicted, "%d of %d connections not on the predicted worker", mispredicted,
	      NR_SAME + NR_SPREAD);
	printf("one 4-tuple: worker %d x%d; %d ports: %d/%d/%d/%d\n", same[0].worker, NR_SAME,
	       NR_SPREAD, counts[0], counts[1], counts[2], counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
