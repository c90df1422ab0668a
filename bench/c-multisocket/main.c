/*
 * c-multisocket: the ceiling for a libcurl client on this machine. libcurl's
 * multi-socket API driven by a level-triggered epoll loop in C, with N easy
 * handles that are reused (removed and added again) until -n transfers have
 * run. Prints one JSON result line, as the Go clients do.
 *
 *   c-multisocket -url URL -n REQUESTS -c N [-h2] [-cacert FILE] [-label L] [-del]
 *
 * By default a socket stays in the epoll set from the moment libcurl opens
 * it until libcurl closes it (CURLOPT_CLOSESOCKETFUNCTION): CURL_POLL_REMOVE
 * only sets its interest to none. With -del, REMOVE deletes it from the set
 * and the next transfer adds it again, as curl's ephiperfifo.c example does.
 * (On libcurl 7.88 sockets abandoned mid-connect are closed without the
 * close callback; nothing here connects to anything but a listening local
 * server, so that never happens in this program.)
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 65536

static int ep, tfd;
static int keep = 1;
static int timeout_now;
static unsigned char opened[MAXFD];     /* opened through open_cb, not yet closed */
static unsigned char registered[MAXFD]; /* in the epoll set */
static int want[MAXFD];                 /* CURL_POLL_* last asked for */
static long long nbytes;

static void die(const char *what) {
	fprintf(stderr, "c-multisocket: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t write_cb(char *p, size_t size, size_t n, void *data) {
	(void)p;
	(void)data;
	nbytes += (long long)(size * n);
	return size * n;
}

static curl_socket_t open_cb(void *data, curlsocktype purpose, struct curl_sockaddr *a) {
	(void)data;
	(void)purpose;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd >= 0 && fd < MAXFD)
		opened[fd] = 1;
	return fd;
}

static int close_cb(void *data, curl_socket_t fd) {
	(void)data;
	if (fd < MAXFD) {
		if (registered[fd])
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		registered[fd] = opened[fd] = 0;
		want[fd] = 0;
	}
	return close(fd);
}

static void set_interest(int fd, uint32_t events) {
	struct epoll_event ev = {.events = events, .data.fd = fd};
	int op = registered[fd] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
	registered[fd] = 1;
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *data, void *socketp) {
	(void)e;
	(void)data;
	(void)socketp;
	if (fd >= MAXFD)
		die("descriptor too large");
	want[fd] = what == CURL_POLL_REMOVE ? 0 : what;
	switch (what) {
	case CURL_POLL_IN: set_interest(fd, EPOLLIN); break;
	case CURL_POLL_OUT: set_interest(fd, EPOLLOUT); break;
	case CURL_POLL_INOUT: set_interest(fd, EPOLLIN | EPOLLOUT); break;
	case CURL_POLL_REMOVE:
		if (!registered[fd])
			break;
		if (keep && opened[fd]) {
			set_interest(fd, 0); /* no interest; stays registered */
		} else {
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			registered[fd] = 0;
		}
		break;
	}
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *data) {
	(void)m;
	(void)data;
	struct itimerspec its = {0};
	timeout_now = 0;
	if (ms == 0)
		timeout_now = 1;
	else if (ms > 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	}
	timerfd_settime(tfd, 0, &its, NULL);
	return 0;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv) {
	const char *url = NULL, *cacert = NULL, *label = "";
	long n = 1000, c = 1;
	int h2 = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (!strcmp(a, "-h2")) h2 = 1;
		else if (!strcmp(a, "-del")) keep = 0;
		else if (i + 1 < argc && !strcmp(a, "-url")) url = argv[++i];
		else if (i + 1 < argc && !strcmp(a, "-n")) n = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "-c")) c = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "-cacert")) cacert = argv[++i];
		else if (i + 1 < argc && !strcmp(a, "-label")) label = argv[++i];
		else {
			fprintf(stderr, "usage: c-multisocket -url URL -n REQUESTS -c N [-h2] [-cacert FILE] [-label L] [-del]\n");
			return 2;
		}
	}
	if (!url || n < 1 || c < 1) {
		fprintf(stderr, "c-multisocket: -url, -n >= 1 and -c >= 1 are required\n");
		return 2;
	}
	if (c > n)
		c = n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
		die("timerfd_create");
	struct epoll_event tev = {.events = EPOLLIN, .data.fd = tfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, c);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c);
	if (h2) {
		curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
		curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
	}
	CURL **easies = calloc(c, sizeof *easies);
	for (long i = 0; i < c; i++) {
		CURL *e = easies[i] = curl_easy_init();
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cb);
		curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL); /* as curlpoll: the CA bundle cache */
		if (h2) {
			curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
			curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
		}
		if (cacert)
			curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
	}

	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now();
	long started = 0, done = 0, errors = 0;
	for (long i = 0; i < c; i++) {
		curl_multi_add_handle(m, easies[i]);
		started++;
	}
	struct epoll_event evs[256];
	int running;
	while (done + errors < n) {
		if (timeout_now) {
			timeout_now = 0;
			curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
		} else {
			int k = epoll_wait(ep, evs, 256, 1000);
			if (k < 0 && errno != EINTR)
				die("epoll_wait");
			for (int i = 0; i < k; i++) {
				int fd = evs[i].data.fd;
				if (fd == tfd) {
					uint64_t x;
					if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
						die("read timerfd");
					curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
					continue;
				}
				if (want[fd] == 0) {
					/* An idle kept socket reports a hang-up: libcurl will
					 * find it dead when it next wants it. */
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					registered[fd] = 0;
					continue;
				}
				uint32_t f = evs[i].events;
				int bits = 0;
				if (f & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
					bits |= CURL_CSELECT_IN;
				if (f & (EPOLLOUT | EPOLLHUP | EPOLLERR))
					bits |= CURL_CSELECT_OUT;
				curl_multi_socket_action(m, fd, bits, &running);
			}
		}
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *e = msg->easy_handle;
			CURLcode rc = msg->data.result;
			long code = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			curl_multi_remove_handle(m, e);
			if (rc != CURLE_OK || code != 200) {
				if (++errors <= 10)
					fprintf(stderr, "c-multisocket: %s (status %ld)\n", curl_easy_strerror(rc), code);
			} else {
				done++;
			}
			if (started < n) {
				started++;
				curl_multi_add_handle(m, e);
			}
		}
	}
	double secs = now() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	for (long i = 0; i < c; i++)
		curl_easy_cleanup(easies[i]);
	curl_multi_cleanup(m);
	printf("{\"client\":\"%s\",\"label\":\"%s\",\"workers\":%ld,\"requests\":%ld,\"errors\":%ld,"
	       "\"bytes\":%lld,\"seconds\":%.6f,\"user_cpu\":%.6f,\"sys_cpu\":%.6f,\"maxrss_kb\":%ld}\n",
	       keep ? "c-multisocket" : "c-multisocket-del", label, c, done, errors, nbytes, secs,
	       tv(ru1.ru_utime) - tv(ru0.ru_utime), tv(ru1.ru_stime) - tv(ru0.ru_stime), ru1.ru_maxrss);
	return errors ? 1 : 0;
}
