// Corking multiplexed connections: the requests that one libcurl call
// starts on an HTTP/2 connection leave in one TCP segment.
//
// libcurl writes each new stream's request to the socket on its own (one
// send(2) per stream: its HTTP/2 filter flushes as each transfer runs), so
// that 50 requests started by one curl_multi_socket_action go out as 50
// segments, each carried through the loopback or the network and each
// waking the server to read it. Measured on this project's benchmark
// machine (nginx, 100 B responses, 128 streams, bench/NOTES.md): the C loop
// over libcurl 8.14.1 ran at 46k requests/s and 21 µs of CPU per request
// as it is, and at 63k and 15 µs with its sockets corked around each call;
// net/http's HTTP/2 client ran at 58k.
//
// The driver corks (TCP_CORK) a connection known to carry HTTP/2 when a
// second request goes out on it within one libcurl call (the first has
// left already: a connection with one request per call gains nothing and
// pays no system call), and uncorks every socket it corked when the call
// returns, which sends what the cork held at once. While libcurl itself
// works, the cork holds the requests it writes: that is the batch. But
// callbacks into Go run inside the call too, user code among them (a
// pre-request function, a TLS verifier, a writer), and requests already
// written should not wait for it: once the calls into Go made while a
// socket is corked add up to CURLPOLL_CORK_HOLD_NS, the driver sends what
// its corks hold, and corks again at the call's next request on the
// connection. A cork left on by mistake would hold its data for a
// retransmission timeout (Linux sends it when the zero-window probe timer
// fires, 200 ms at the least), and none is left: every libcurl call a
// driver makes ends in curlpoll_uncork.
//
// Which socket a request uses: the pre-request callback gives the
// connection's local port, not its socket. The socket callback learns,
// with getsockname(2), the local port of each TCP socket that libcurl
// opened (the open-socket callback notes which) and announces (once per
// socket, the first time: libcurl 8.x announces a socket only
// when its interest changes, and a busy HTTP/2 connection may never change
// it), kept with the socket's curlpoll_numgens count so that a number
// reused by another socket is learned again; a socket is marked HTTP/2
// when a transfer with its local port ends as HTTP/2. CURLINFO_ACTIVESOCKET
// cannot say it: it names the last connection the handle left idle, and an
// HTTP/2 connection with streams open is not idle (lib/multi.c,
// multi_done_locked). The tables are hints, shared by every Multi's
// driver: a stale or wrong entry (two connections to different servers may
// share a local port) corks the wrong socket around one call, which sends
// its data when the call returns as it would have anyway. A cork is taken
// back at once if the number's count moved while it was set (the socket
// closed, the number perhaps someone else's), and a corked socket closed in
// the call is left alone (close sends what it held).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include "shim.h"

// fdinfo is what the drivers learned of a descriptor number below
// CURLPOLL_NUMGENS: that libcurl opened it as a TCP socket, valid while the
// number's curlpoll_numgens count is tcp_gen; its local port, valid while
// the count is port_gen; and that it carries HTTP/2, valid while the count
// is h2_gen. Read and written with relaxed atomics: the
// values are hints (above).
static struct {
	uint32_t tcp_gen, port_gen, h2_gen;
	uint32_t port;
} fdinfo[CURLPOLL_NUMGENS];

// port_fd is the descriptor last learned with each local port, plus one (0:
// none).
static uint32_t port_fd[65536];

#define LOAD(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

static uint32_t numgen(int fd) {
	return __atomic_load_n(&curlpoll_numgens[fd], __ATOMIC_SEQ_CST);
}

void curlpoll_cork_opened(int fd, int family, int socktype) {
	if (fd >= 0 && fd < CURLPOLL_NUMGENS && socktype == SOCK_STREAM && (family == AF_INET || family == AF_INET6))
		STORE(fdinfo[fd].tcp_gen, numgen(fd));
}

void curlpoll_cork_learn(int fd) {
	if (fd < 0 || fd >= CURLPOLL_NUMGENS)
		return;
	uint32_t g = numgen(fd);
	if (LOAD(fdinfo[fd].port_gen) == g || LOAD(fdinfo[fd].tcp_gen) != g)
		return;
	struct sockaddr_storage a;
	socklen_t n = sizeof a;
	uint32_t port = 0;
	if (getsockname(fd, (struct sockaddr *)&a, &n) == 0) {
		if (a.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&a)->sin_port);
		else if (a.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	}
	STORE(fdinfo[fd].port, port);
	STORE(fdinfo[fd].port_gen, g);
	if (port != 0)
		STORE(port_fd[port], (uint32_t)fd + 1);
}

// port_socket returns the descriptor learned with local port port, if its
// entry is current, and its count in *gen; or -1.
static int port_socket(long port, uint32_t *gen) {
	if (port <= 0 || port > 65535)
		return -1;
	int fd = (int)LOAD(port_fd[port]) - 1;
	if (fd < 0)
		return -1;
	uint32_t g = numgen(fd);
	if (LOAD(fdinfo[fd].port) != (uint32_t)port || LOAD(fdinfo[fd].port_gen) != g)
		return -1;
	*gen = g;
	return fd;
}

void curlpoll_cork_done(struct curlpoll_multi *m, CURL *e, long local_port) {
	long v = 0;
	if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) != CURLE_OK || v != CURL_HTTP_VERSION_2_0)
		return;
	m->h2_seen = 1;
	uint32_t g;
	int fd = port_socket(local_port, &g);
	if (fd >= 0)
		STORE(fdinfo[fd].h2_gen, g);
}

static int set_cork(int fd, int on) {
	return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
}

static int64_t now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// send_corked uncorks m's corked sockets, keeping its entries.
static void send_corked(struct curlpoll_multi *m) {
	for (int i = 0; i < m->ncork; i++) {
		struct curlpoll_cork *c = &m->corks[i];
		// A socket closed in the call sent what the cork held; its
		// number may name another socket now.
		if (c->on && numgen(c->fd) == c->gen)
			set_cork(c->fd, 0);
		c->on = 0;
	}
	m->corks_on = 0;
	m->cork_go_ns = 0;
}

int64_t curlpoll_cork_go_begin(void) { return now_ns(); }

void curlpoll_cork_go_end(struct curlpoll_multi *m, int64_t t0) {
	if (!m->corks_on)
		return;
	m->cork_go_ns += now_ns() - t0;
	// Sent now; the entries stay, so that the call's next request on a
	// connection corks it again at once.
	if (m->cork_go_ns > CURLPOLL_CORK_HOLD_NS)
		send_corked(m);
}

void curlpoll_cork_request(struct curlpoll_multi *m, long local_port) {
	if (!m->h2_seen)
		return;
	uint32_t g;
	int fd = port_socket(local_port, &g);
	if (fd < 0 || LOAD(fdinfo[fd].h2_gen) != g)
		return;
	for (int i = 0; i < m->ncork; i++) {
		struct curlpoll_cork *c = &m->corks[i];
		if (c->fd != fd || c->gen != g)
			continue;
		if (!c->on && set_cork(fd, 1)) {
			if (numgen(fd) != g) {
				// Closed meanwhile (by another driver): the number may
				// be another socket now.
				set_cork(fd, 0);
				return;
			}
			c->on = 1;
			m->corks_on++;
			m->corked++;
		}
		return;
	}
	if (m->ncork < CURLPOLL_CORKS) {
		m->corks[m->ncork].fd = fd;
		m->corks[m->ncork].gen = g;
		m->corks[m->ncork].on = 0;
		m->ncork++;
	}
}

void curlpoll_uncork(struct curlpoll_multi *m) {
	send_corked(m);
	m->ncork = 0;
}
