/* Dead-peer timeouts: how long a silent network (a partition that drops packets without
 * a reset) may hold a connection, derived from connect_timeout and statement_timeout. */
#include "store/store.h"

void store_net_timeouts_of(const store_params *p, store_net_timeouts *out)
{
	int ct = p->connect_timeout > 0 ? p->connect_timeout : 10;
	int st = p->statement_timeout > 0 ? p->statement_timeout : 0;
	/* A healthy server's kernel answers a keepalive probe and acknowledges data at
	 * once, whatever its backends are doing: the connect timeout is the right scale. */
	out->keepalives_idle = ct;
	out->keepalives_interval = ct / 3 > 1 ? ct / 3 : 1;
	out->keepalives_count = 3;
	out->tcp_user_timeout_ms = 2 * ct * 1000;
	out->write_timeout = 2 * ct;
	/* An answer legitimately takes up to the statement timeout (the server enforces
	 * it); beyond that plus the time a connect may take, the peer is gone. This also
	 * catches what the kernel cannot see: a proxy or balancer that still acknowledges
	 * and answers keepalives but forwards nothing. */
	out->reply_timeout = st > 0 ? st + 2 * ct : 0;
}
