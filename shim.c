#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include "shim.h"
#include "_cgo_export.h"

CURLcode curlpoll_setopt_long(CURL *h, CURLoption opt, long v) { return curl_easy_setopt(h, opt, v); }
CURLcode curlpoll_setopt_off(CURL *h, CURLoption opt, curl_off_t v) { return curl_easy_setopt(h, opt, v); }
CURLcode curlpoll_setopt_str(CURL *h, CURLoption opt, const char *v) { return curl_easy_setopt(h, opt, v); }
CURLcode curlpoll_setopt_ptr(CURL *h, CURLoption opt, void *v) { return curl_easy_setopt(h, opt, v); }
CURLcode curlpoll_setopt_handle(CURL *h, CURLoption opt, uintptr_t v) { return curl_easy_setopt(h, opt, (void *)v); }

CURLcode curlpoll_setopt_blob(CURL *h, CURLoption opt, void *data, size_t len) {
	struct curl_blob b = {data, len, CURL_BLOB_COPY};
	return curl_easy_setopt(h, opt, &b);
}

struct curlpoll_long curlpoll_getinfo_long(curlpoll_hnd h, CURLINFO info) {
	struct curlpoll_long r = {0, CURLE_OK};
	r.rc = curl_easy_getinfo((CURL *)h, info, &r.v);
	return r;
}
struct curlpoll_off curlpoll_getinfo_off(curlpoll_hnd h, CURLINFO info) {
	struct curlpoll_off r = {0, CURLE_OK};
	r.rc = curl_easy_getinfo((CURL *)h, info, &r.v);
	return r;
}
CURLcode curlpoll_getinfo_double(CURL *h, CURLINFO info, double *v) { return curl_easy_getinfo(h, info, v); }
CURLcode curlpoll_getinfo_str(CURL *h, CURLINFO info, char **v) { return curl_easy_getinfo(h, info, v); }
CURLcode curlpoll_getinfo_ptr(CURL *h, CURLINFO info, void **v) { return curl_easy_getinfo(h, info, v); }
CURLcode curlpoll_getinfo_certinfo(CURL *h, struct curl_certinfo **v) { return curl_easy_getinfo(h, CURLINFO_CERTINFO, v); }
CURLcode curlpoll_getinfo_tls_session(CURL *h, struct curl_tlssessioninfo **v) { return curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, v); }

static CURLcode setopt_one(CURL *e, struct curlpoll_opt *o, const char *arena) {
	switch (o->kind) {
	case CURLPOLL_OPT_LONG:
		return curl_easy_setopt(e, o->opt, (long)o->n);
	case CURLPOLL_OPT_OFF:
		return curl_easy_setopt(e, o->opt, (curl_off_t)o->n);
	case CURLPOLL_OPT_STR:
		return curl_easy_setopt(e, o->opt, arena + o->at);
	case CURLPOLL_OPT_NULL:
		return curl_easy_setopt(e, o->opt, (void *)NULL);
	case CURLPOLL_OPT_BLOB: {
		struct curl_blob b = {(void *)(arena + o->at), (size_t)o->n, CURL_BLOB_COPY};
		return curl_easy_setopt(e, o->opt, &b);
	}
	case CURLPOLL_OPT_LIST: {
		struct curl_slist *l = NULL;
		const char *item = arena + o->at;
		CURLcode rc;
		for (long long i = 0; i < o->n; i++) {
			struct curl_slist *next = curl_slist_append(l, item);
			if (next == NULL) {
				curl_slist_free_all(l);
				return CURLE_OUT_OF_MEMORY;
			}
			l = next;
			item += strlen(item) + 1;
		}
		rc = curl_easy_setopt(e, o->opt, l);
		if (rc != CURLE_OK)
			curl_slist_free_all(l);
		else
			o->list = (uintptr_t)l;
		return rc;
	}
	}
	return CURLE_BAD_FUNCTION_ARGUMENT;
}

struct curlpoll_setopts_result curlpoll_setopts(CURL *e, struct curlpoll_opt *ops, int n, const char *arena) {
	struct curlpoll_setopts_result r = {CURLE_OK, 0};
	for (; r.done < n; r.done++) {
		r.rc = setopt_one(e, &ops[r.done], arena);
		if (r.rc != CURLE_OK)
			break;
	}
	return r;
}

CURLMcode curlpoll_multi_setopt_long(CURLM *m, CURLMoption opt, long v) { return curl_multi_setopt(m, opt, v); }

struct curlpoll_easy *curlpoll_easy_new(uintptr_t h) {
	struct curlpoll_easy *s = calloc(1, sizeof *s);
	if (s != NULL)
		s->handle = h;
	return s;
}

void curlpoll_easy_free(struct curlpoll_easy *s) {
	if (s != NULL)
		free(s->hdr);
	free(s);
}

// driving is the Multi whose driver is in a libcurl call on this thread
// (the curlpoll_ functions that call libcurl for a driver set it with
// drive_begin), NULL outside them: the one Multi whose state a callback
// made on this thread may touch.
static __thread struct curlpoll_multi *driving;

uintptr_t curlpoll_driving(void) { return driving != NULL ? driving->handle : 0; }

struct curlpoll_multi *curlpoll_driving_multi(void) { return driving; }

// drive_begin makes s the Multi driving on this thread and returns the one
// before (these calls do not nest in practice, but a callback may pause a
// transfer); drive_end, after the libcurl call, uncorks what s corked in it
// (cork.c) and restores prev.
static struct curlpoll_multi *drive_begin(struct curlpoll_multi *s) {
	struct curlpoll_multi *prev = driving;
	driving = s;
	return prev;
}

static void drive_end(struct curlpoll_multi *s, struct curlpoll_multi *prev) {
	if (s != NULL)
		curlpoll_uncork(s);
	driving = prev;
}

// Trampolines. The write and header callbacks get the Easy's
// curlpoll_easy; the others pass the handle (handles.go) they were given as data.

// hdr_flush passes the lines in s->hdr, then p[0:n] unless p is NULL, to Go
// in one call; 0 if Go refused them (the transfer is to fail).
static int hdr_flush(struct curlpoll_easy *s, char *p, size_t n) {
	size_t len = s->len;
	s->len = 0;
	CURLPOLL_GO_BEGIN(driving);
	int ok = goHeaders(s->handle, s->hdr, len, p, n);
	CURLPOLL_GO_END(driving);
	return ok;
}

// hdr_add appends a line to s->hdr; 0 if it does not fit in
// CURLPOLL_HDR_MAX bytes or memory ran out.
static int hdr_add(struct curlpoll_easy *s, const char *p, size_t n) {
	uint32_t n32 = (uint32_t)n;
	size_t need = s->len + sizeof n32 + n;
	if (need > CURLPOLL_HDR_MAX)
		return 0;
	if (need > s->cap) {
		size_t c = s->cap ? s->cap : 1024;
		while (c < need)
			c *= 2;
		char *b = realloc(s->hdr, c);
		if (b == NULL)
			return 0;
		s->hdr = b;
		s->cap = c;
	}
	memcpy(s->hdr + s->len, &n32, sizeof n32);
	memcpy(s->hdr + s->len + sizeof n32, p, n);
	s->len = need;
	return 1;
}

// blank reports a line with nothing but line-ending bytes: the end of a
// header block.
static int blank(const char *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

// header_cb collects the line; a blank one, or one that does not fit, goes
// to Go with those before it. Crossing into Go costs about as much as the
// Go side's work on a line, and a response has ten or so.
static size_t header_cb(char *p, size_t size, size_t n, void *data) {
	struct curlpoll_easy *s = data;
	n *= size;
	if (s->multi != NULL)
		s->multi->header_lines++;
	s->nlines++;
	if (s->reuse_guard != NULL) {
		// A response has begun on the connection: it may be reused.
		curl_easy_setopt(s->reuse_guard, CURLOPT_FORBID_REUSE, 0L);
		s->reuse_guard = NULL;
	}
	if (!hdr_add(s, p, n))
		return hdr_flush(s, p, n) ? n : 0;
	if (blank(p, n) && !s->defer_hdr) {
		int ok = hdr_flush(s, NULL, 0);
		// A transfer held open for long (a stream, a slow body) should
		// not keep the buffer: most blocks come once per transfer, and
		// malloc serves the next one from its cache.
		free(s->hdr);
		s->hdr = NULL;
		s->cap = 0;
		return ok ? n : 0;
	}
	return n;
}

// write_cb passes header lines still collected (a deferred header block,
// or those of a protocol whose header block has no blank line at its end)
// to Go with the body's bytes, in one call.
static size_t write_cb(char *p, size_t size, size_t n, void *data) {
	struct curlpoll_easy *s = data;
	size_t len = s->len, ret;
	s->len = 0;
	CURLPOLL_GO_BEGIN(driving);
	ret = goWrite(s->handle, len != 0 ? s->hdr : NULL, len, p, size * n);
	CURLPOLL_GO_END(driving);
	if (len != 0) {
		free(s->hdr); // see header_cb
		s->hdr = NULL;
		s->cap = 0;
	}
	return ret;
}

static size_t read_cb(char *p, size_t size, size_t n, void *data) {
	CURLPOLL_GO_BEGIN(driving);
	size_t ret = goRead((uintptr_t)data, p, size * n);
	CURLPOLL_GO_END(driving);
	return ret;
}

static int seek_cb(void *data, curl_off_t offset, int origin) {
	CURLPOLL_GO_BEGIN(driving);
	int ret = goSeek((uintptr_t)data, offset, origin);
	CURLPOLL_GO_END(driving);
	return ret;
}

static int progress_cb(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
	CURLPOLL_GO_BEGIN(driving);
	int ret = goProgress((uintptr_t)data, dltotal, dlnow, ultotal, ulnow);
	CURLPOLL_GO_END(driving);
	return ret;
}

// debug_cb passes libcurl's informational text and the header blocks it
// sends and receives to Go. The data it also reports (body bytes, TLS
// records) is dropped here, in C: copying every chunk to a Go callback would
// double the cost of a verbose transfer for nothing anyone logs.
static int debug_cb(CURL *e, curl_infotype type, char *p, size_t n, void *data) {
	(void)e;
	switch (type) {
	case CURLINFO_TEXT:
	case CURLINFO_HEADER_IN:
	case CURLINFO_HEADER_OUT: {
		CURLPOLL_GO_BEGIN(driving);
		goDebug((uintptr_t)data, (int)type, p, n);
		CURLPOLL_GO_END(driving);
		break;
	}
	default:
		break;
	}
	return 0;
}

// prereq_cb counts the transfer's requests, aborts one beyond the Easy's
// bound (SetMaxRequests) before a byte of it is sent, and passes the call
// to Go where the Easy has a pre-request function: installed on every
// handle (libcurl 7.80.0+), it costs no crossing where Go has none.
static int prereq_cb(void *data, char *primary_ip, char *local_ip, int primary_port, int local_port) {
	struct curlpoll_easy *s = data;
	s->attempts++;
	if ((s->max_requests != 0 && s->attempts > s->max_requests) || (s->trailers_once && s->attempts > 1)) {
		s->over_limit = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	if (s->multi != NULL)
		curlpoll_cork_request(s->multi, local_port);
	if (!s->want_prereq)
		return CURL_PREREQFUNC_OK;
	CURLPOLL_GO_BEGIN(driving);
	int ret = goPrereq(s->handle, primary_ip, local_ip, primary_port, local_port);
	CURLPOLL_GO_END(driving);
	return ret;
}

CURLcode curlpoll_set_debug(CURL *e, int on) {
	CURLcode rc = curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on ? debug_cb : NULL);
	if (rc == CURLE_OK) rc = curl_easy_setopt(e, CURLOPT_VERBOSE, on ? 1L : 0L);
	return rc;
}

CURLcode curlpoll_set_prereq(CURL *e, struct curlpoll_easy *s, int on) {
	// The function stays (curlpoll_easy_setup); setting it again gives
	// libcurl's answer where it has no such option.
	CURLcode rc = curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	if (rc == CURLE_OK)
		s->want_prereq = on;
	return rc;
}

int curlpoll_go_client_cert(struct curlpoll_easy *s, void *ssl) {
	CURLPOLL_GO_BEGIN(driving);
	int ret = goClientCert(s->handle, ssl);
	CURLPOLL_GO_END(driving);
	return ret;
}

// trailer_cb asks Go for a chunked upload's trailer lines (SetTrailerFunc).
static int trailer_cb(struct curl_slist **list, void *data) {
	struct curlpoll_easy *s = data;
	CURLPOLL_GO_BEGIN(driving);
	int ret = goTrailers(s->handle, list);
	CURLPOLL_GO_END(driving);
	return ret;
}

CURLcode curlpoll_set_trailers(CURL *e, struct curlpoll_easy *s, int on) {
	CURLcode rc = curl_easy_setopt(e, CURLOPT_TRAILERFUNCTION, on ? trailer_cb : NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TRAILERDATA, on ? (void *)s : NULL);
	return rc;
}

uint32_t curlpoll_numgens[CURLPOLL_NUMGENS];

static void numgen_bump(int fd) {
	if (fd >= 0 && fd < CURLPOLL_NUMGENS) // as numGenSlot in fdwatch.go
		__atomic_fetch_add(&curlpoll_numgens[fd], 1, __ATOMIC_SEQ_CST);
}

// open_cb creates every socket close-on-exec: libcurl 7.88 uses a plain
// socket(2), so a concurrent fork/exec would otherwise inherit its sockets.
// The Multi driving on this thread, the opening transfer's, is told of
// each new socket. (libcurl opens sockets only while it runs transfers,
// which only drivers make it do; data, the opening Easy's curlpoll_easy,
// is for a dial function.)
//
// Where the Easy has a dial function (SetDialFunc), a TCP connection's
// socket is connected to a loopback listener that Go opened for it alone
// (goDialSocket puts its address in a): libcurl connects there, as the
// callback's documentation allows ("the destination address information
// might have been changed and this 'new' address will actually be used
// here to connect", lib/cf-socket.c), and Go relays that connection to
// the one the function makes. (CURL_SOCKOPT_ALREADY_CONNECTED on a socket
// pair would save the listener, but libcurl 7.88 connects such a socket
// all the same, curl#10626, and will not reuse a connection without an IP
// address.) A UDP socket (QUIC) is refused: it would bypass the function.
static curl_socket_t open_cb(void *data, curlsocktype purpose, struct curl_sockaddr *a) {
	struct curlpoll_easy *s = data;
	(void)purpose;
	int fd;
	if (s != NULL && s->dial && (a->family == AF_INET || a->family == AF_INET6)) {
		if (a->socktype != SOCK_STREAM || driving == NULL)
			return CURL_SOCKET_BAD;
		fd = goDialSocket(driving->handle, s->handle, a);
	} else {
		fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	}
	numgen_bump(fd);
	curlpoll_cork_opened(fd, a->family, a->socktype);
	if (fd >= 0 && driving != NULL)
		goOpenSocket(driving->handle, fd);
	return fd;
}

// close_cb closes a socket that open_cb made, after telling the Multi whose
// driver closes it. libcurl passes the data of the transfer that opened the
// connection, which need not be the one closing it: a connection in a
// Share's pool (ShareConnections) may be closed by a transfer of another
// Multi, on that Multi's driver, or by curl_share_cleanup on any goroutine,
// after its Multi is gone. The Multi told is the one driving on this thread,
// if any: only its driver may touch its state. A socket closed elsewhere
// leaves the epoll sets that hold it by itself (the kernel drops a closed
// descriptor), and the Multis that knew its number learn so from
// curlpoll_numgens when libcurl next announces that number (fdwatch.go).
static int close_cb(void *data, curl_socket_t fd) {
	(void)data;
	if (driving != NULL)
		goCloseSocket(driving->handle, fd);
	numgen_bump(fd);
	return close(fd);
}

// socket_cb records libcurl's interest in a socket for the driver, which
// takes the records in, in order, after the libcurl call that made them
// (Multi.applySockets), or before an open- or close-socket callback's own
// work: a keep-alive request makes two (IN, then REMOVE), and crossing into
// Go for each cost more than the work. socketp is unused: curlpoll never
// sets it (curl_multi_assign), so that every announcement is an epoll_ctl
// (see fdwatch.go).
static int socket_cb(CURL *e, curl_socket_t s, int what, void *data, void *socketp) {
	struct curlpoll_multi *m = data;
	(void)e;
	(void)socketp;
	if (what != CURL_POLL_REMOVE)
		curlpoll_cork_learn(s);
	if (m->nsock == CURLPOLL_SOCKEVS)
		goSockets(m->handle); // takes them in and empties the record
	m->sockevs[m->nsock].fd = s;
	m->sockevs[m->nsock].what = what;
	m->nsock++;
	return 0; // -1 would mark the whole multi handle dead
}

// timer_cb records the timeout for the driver, which acts on it after the
// libcurl call that made it (Multi.applyTimer): each call replaces the
// last, so only the last matters, and crossing into Go costs more than
// everything else a small request's timer does.
static int timer_cb(CURLM *m, long timeout_ms, void *data) {
	struct curlpoll_multi *s = data;
	(void)m;
	s->timeout_ms = timeout_ms;
	s->timer_set = 1;
	s->timer_calls[timeout_ms < 0 ? 0 : timeout_ms == 0 ? 1 : 2]++;
	return 0; // -1 would mark the whole multi handle dead
}

CURLcode curlpoll_easy_setup(CURL *e, struct curlpoll_easy *s, char *errbuf) {
	void *d = (void *)s->handle;
	CURLcode rc = CURLE_OK;
#define SET(opt, v) if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, v)
	SET(CURLOPT_PRIVATE, d);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, s);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, d);
	SET(CURLOPT_SEEKFUNCTION, seek_cb);
	SET(CURLOPT_SEEKDATA, d);
	SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
	SET(CURLOPT_XFERINFODATA, d);
	SET(CURLOPT_NOPROGRESS, 1L);
	SET(CURLOPT_DEBUGDATA, d); // the function is set by curlpoll_set_debug
	SET(CURLOPT_OPENSOCKETFUNCTION, open_cb);
	SET(CURLOPT_OPENSOCKETDATA, s);
	SET(CURLOPT_CLOSESOCKETFUNCTION, close_cb);
	SET(CURLOPT_CLOSESOCKETDATA, NULL);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	// Trust the CA bundle file alone, not also a CA directory: libcurl
	// 7.87+ caches the parsed bundle in the multi handle only when no CA
	// path is set, and Debian builds libcurl with both. Parsing the bundle
	// takes ~20 ms, inside a libcurl call, for every new TLS connection.
	SET(CURLOPT_CAPATH, NULL);
	// An empty (not NULL) proxy: no proxy, and libcurl reads none of
	// http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY from the environment.
	SET(CURLOPT_PROXY, "");
#undef SET
	if (rc == CURLE_OK) {
		// The same for an HTTPS proxy: a CA file or bundle set for it is
		// then the whole of what is trusted (CURLOPT_PROXY_CAPATH was left
		// at the directory libcurl was built with, and a proxy verified
		// against the Transport's CAFile or CAPEM passed with any
		// authority there too). A libcurl without proxies refuses it.
		curl_easy_setopt(e, CURLOPT_PROXY_CAPATH, NULL);
		// Removing a transfer during a slow name lookup would otherwise
		// wait for the resolver thread (7.87.0+; older versions ignore it).
		curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
		// 7.80.0+: prereq_cb counts the requests of each transfer.
		s->want_prereq = 0;
		if (curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb) == CURLE_OK)
			curl_easy_setopt(e, CURLOPT_PREREQDATA, s);
	}
	return rc;
}

CURLcode curlpoll_easy_reset(CURL *e, struct curlpoll_easy *s, char *errbuf) {
	curl_easy_reset(e);
	return curlpoll_easy_setup(e, s, errbuf);
}

// drop_dup frees h, a handle that another duplicates or was duplicated
// from. With share set, h first lets go of the share (under its lock, as
// setopt does it: otherwise curl_easy_cleanup saves a shared HSTS cache
// while walking it unlocked, Curl_close). With hsts_list set, h shares its
// list of CURLOPT_HSTS files with the other handle: before 8.1.0
// curl_easy_duphandle copies the list's pointer (dupset: dst->set =
// src->set, lib/easy.c) and each handle's cleanup frees it (Curl_close).
// curl_easy_reset clears the pointer without freeing the list
// (Curl_freeset leaves it), so the other handle keeps it; the cookie file
// list, which reset would leak the same way and duphandle did copy, is
// freed first. h's own HSTS cache outlives the reset and is saved to the
// file it was loaded from (Curl_hsts_save falls back on h->filename).
static void drop_dup(CURL *h, int share, int hsts_list) {
	if (share)
		curl_easy_setopt(h, CURLOPT_SHARE, NULL);
	if (hsts_list) {
		curl_easy_setopt(h, CURLOPT_COOKIEFILE, NULL);
		curl_easy_reset(h);
	}
	curl_easy_cleanup(h);
}

static CURLcode easy_renew(CURL *old, const struct curlpoll_renew *r, CURL **out) {
	int hsts_list = (r->flags & CURLPOLL_RENEW_HSTS_LIST) != 0;
	CURLcode rc = CURLE_OK;
	CURL *n;
	// The duplicate would read the alt-svc file, and then again when set
	// below, after old has saved its cache there: each time the file's
	// entries join the cache (altsvc_add keeps duplicates), so it would
	// double with every renewal. old keeps the file's name in its cache
	// (asi->filename, Curl_altsvc_save) to save to.
	if (r->altsvc != NULL)
		curl_easy_setopt(old, CURLOPT_ALTSVC, NULL);
	// dupset copies a body of size 0 not at all, and leaves the pointer to
	// old's copy in the duplicate (to be freed with old). A larger size
	// frees the copy (setopt.c, CURLOPT_POSTFIELDSIZE_LARGE), and 0 again
	// leaves what old sent: an empty body, the method as it was.
	if (r->flags & CURLPOLL_RENEW_EMPTY_POST) {
		curl_easy_setopt(old, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)1);
		curl_easy_setopt(old, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	// The duplicate sends a copy of old's form (CURLOPT_MIMEPOST), fresh to
	// read; the Easy's own form, now set on no handle, stays its to free.
	// (Set on the duplicate, it would start where old's last transfer left
	// it: libcurl rewinds a form only from its handle's read position.)
	n = curl_easy_duphandle(old);
	if (n == NULL) {
		rc = CURLE_OUT_OF_MEMORY;
		goto restore;
	}
	// duphandle does not set the share (it is not an option in set)...
	if (r->share != NULL)
		rc = curl_easy_setopt(n, CURLOPT_SHARE, r->share);
	// ... nor CURLOPT_AWS_SIGV4 (a string after STRING_LASTZEROTERMINATED;
	// fixed in 8.1.0 by 3f0b81c112), which sets CURLOPT_HTTPAUTH too: that
	// one is set again after it, with the Digest IE flag (kept in state)...
	if (rc == CURLE_OK && r->aws_sigv4 != NULL)
		rc = curl_easy_setopt(n, CURLOPT_AWS_SIGV4, r->aws_sigv4);
	if (rc == CURLE_OK && r->httpauth != 0)
		rc = curl_easy_setopt(n, CURLOPT_HTTPAUTH, r->httpauth);
	if (rc == CURLE_OK && r->proxyauth != 0)
		rc = curl_easy_setopt(n, CURLOPT_PROXYAUTH, r->proxyauth);
	// ... nor the RTSP CSeq counters (in state)...
	if (rc == CURLE_OK) {
		long cseq = 0;
		if (curl_easy_getinfo(old, CURLINFO_RTSP_CLIENT_CSEQ, &cseq) == CURLE_OK && cseq != 0)
			rc = curl_easy_setopt(n, CURLOPT_RTSP_CLIENT_CSEQ, cseq);
		cseq = 0;
		if (rc == CURLE_OK && curl_easy_getinfo(old, CURLINFO_RTSP_SERVER_CSEQ, &cseq) == CURLE_OK && cseq != 0)
			rc = curl_easy_setopt(n, CURLOPT_RTSP_SERVER_CSEQ, cseq);
	}
	// ... nor the cookies in memory, only reloading the cookie files (as
	// every transfer does): the jar goes over line by line.
	if (rc == CURLE_OK && (r->flags & CURLPOLL_RENEW_COOKIES)) {
		struct curl_slist *l = NULL, *i;
		if (curl_easy_getinfo(old, CURLINFO_COOKIELIST, &l) == CURLE_OK) {
			for (i = l; i != NULL && rc == CURLE_OK; i = i->next)
				rc = curl_easy_setopt(n, CURLOPT_COOKIELIST, i->data);
			curl_slist_free_all(l);
		}
	}
	if (rc != CURLE_OK) {
		drop_dup(n, r->share != NULL, hsts_list);
		goto restore;
	}
	// Freeing old saves its HSTS and alt-svc caches to their files. The
	// duplicate reads the HSTS files as each transfer starts
	// (Curl_hsts_loadfiles), the alt-svc file when it is set; its alt-svc
	// cache is new, with libcurl's default flags (Curl_altsvc_init).
	drop_dup(old, r->share != NULL, hsts_list);
	if (r->altsvc_ctrl != 0)
		curl_easy_setopt(n, CURLOPT_ALTSVC_CTRL, r->altsvc_ctrl);
	if (r->altsvc != NULL)
		curl_easy_setopt(n, CURLOPT_ALTSVC, r->altsvc);
	*out = n;
	return CURLE_OK;
restore:
	// Rare (out of memory): old reads its file again, its entries twice.
	if (r->altsvc != NULL)
		curl_easy_setopt(old, CURLOPT_ALTSVC, r->altsvc);
	return rc;
}

struct curlpoll_renewed curlpoll_easy_renew(curlpoll_hnd old, struct curlpoll_renew r) {
	struct curlpoll_renewed out = {NULL, CURLE_OK};
	out.rc = easy_renew((CURL *)old, &r, &out.h);
	return out;
}

CURLMcode curlpoll_multi_setup(CURLM *m, uintptr_t h, struct curlpoll_multi *s) {
	CURLMcode rc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
	s->handle = h;
	if (rc == CURLM_OK) rc = curl_multi_setopt(m, CURLMOPT_SOCKETDATA, (void *)s);
	if (rc == CURLM_OK) rc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
	if (rc == CURLM_OK) rc = curl_multi_setopt(m, CURLMOPT_TIMERDATA, (void *)s);
	return rc;
}

static uintptr_t curlpoll_private(CURL *e) {
	char *p = NULL;
	if (curl_easy_getinfo(e, CURLINFO_PRIVATE, &p) != CURLE_OK)
		return 0;
	return (uintptr_t)p;
}

int curlpoll_info_read(CURLM *m, struct curlpoll_multi *s) {
	int left, n = 0;
	CURLMsg *msg;
	while (n < CURLPOLL_MSGS && (msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE) {
			s->msgs[n].priv = curlpoll_private(msg->easy_handle);
			s->msgs[n].result = msg->data.result;
			n++;
		}
	}
	return n;
}

// CURLINFO_QUEUE_TIME_T is new in libcurl 8.6.0.
#define INFO_QUEUE_TIME_T (CURLINFO_OFF_T + 65)

// info_ip copies the address string info into dst; "" if unknown.
static void info_ip(CURL *e, CURLINFO info, char *dst, size_t size) {
	char *ip = NULL;
	dst[0] = 0;
	if (curl_easy_getinfo(e, info, &ip) == CURLE_OK && ip != NULL && strlen(ip) < size)
		strcpy(dst, ip);
}

void curlpoll_info(CURL *e, int queue, struct curlpoll_info *out) {
	static const CURLINFO times[7] = {
		CURLINFO_NAMELOOKUP_TIME_T, CURLINFO_CONNECT_TIME_T, CURLINFO_APPCONNECT_TIME_T,
		CURLINFO_PRETRANSFER_TIME_T, CURLINFO_STARTTRANSFER_TIME_T, CURLINFO_TOTAL_TIME_T,
		CURLINFO_REDIRECT_TIME_T,
	};
	CURLcode rc;
	memset(out, 0, sizeof *out);
	if (curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &out->os_errno) != CURLE_OK)
		out->os_errno = 0;
	for (int i = 0; i < 7; i++) {
		if ((rc = curl_easy_getinfo(e, times[i], &out->times[i])) != CURLE_OK) {
			out->failed = times[i];
			out->rc = rc;
			return;
		}
	}
	if (queue && curl_easy_getinfo(e, INFO_QUEUE_TIME_T, &out->times[7]) != CURLE_OK)
		out->times[7] = 0;
	info_ip(e, CURLINFO_PRIMARY_IP, out->primary_ip, sizeof out->primary_ip);
	if (curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &out->primary_port) != CURLE_OK)
		out->primary_port = 0;
	info_ip(e, CURLINFO_LOCAL_IP, out->local_ip, sizeof out->local_ip);
	if (curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &out->local_port) != CURLE_OK)
		out->local_port = 0;
	if ((rc = curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &out->num_connects)) != CURLE_OK) {
		out->failed = CURLINFO_NUM_CONNECTS;
		out->rc = rc;
	}
}

CURLMcode curlpoll_socket_action(curlpoll_hnd m, curl_socket_t fd, int ev, struct curlpoll_multi *s) {
	struct curlpoll_multi *prev = drive_begin(s);
	CURLMcode rc = curl_multi_socket_action((CURLM *)m, fd, ev, &s->running);
	drive_end(s, prev);
	return rc;
}

CURLMcode curlpoll_add(curlpoll_hnd mh, curlpoll_hnd eh, curlpoll_hnd share, struct curlpoll_multi *s) {
	CURLM *m = (CURLM *)mh;
	CURL *e = (CURL *)eh;
	s->add_shared = share != 0 && curl_easy_setopt(e, CURLOPT_SHARE, (CURLSH *)share) == CURLE_OK;
	if (curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &s->add_errno) != CURLE_OK)
		s->add_errno = 0;
	struct curlpoll_multi *prev = drive_begin(s);
	CURLMcode rc = curl_multi_add_handle(m, e);
	drive_end(s, prev);
	return rc;
}

int curlpoll_done(curlpoll_hnd mh, curlpoll_hnd eh, struct curlpoll_easy *s, int queue, struct curlpoll_multi *ms, int unshare) {
	CURLM *m = (CURLM *)mh;
	CURL *e = (CURL *)eh;
	struct curlpoll_multi *prev = drive_begin(ms);
	int ok = s->len == 0 || hdr_flush(s, NULL, 0);
	curlpoll_info(e, queue, &ms->info);
	curlpoll_cork_done(ms, e, ms->info.local_port);
	long redirects = 0;
	if (s->attempts > 1 && curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects) != CURLE_OK)
		redirects = 0;
	s->redirects = (uint32_t)redirects;
	curl_multi_remove_handle(m, e);
	if (unshare)
		curl_easy_setopt(e, CURLOPT_SHARE, NULL);
	drive_end(ms, prev);
	s->multi = NULL;
	if (s->reuse_guard != NULL) {
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
		s->reuse_guard = NULL;
	}
	return ok;
}

// Share handles (share.go): the lock callbacks take the mutex of the kind
// of data.

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *p) {
	struct curlpoll_share *s = p;
	(void)e; (void)a;
	if (d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->mu[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *p) {
	struct curlpoll_share *s = p;
	(void)e;
	if (d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->mu[d]);
}

// curlpoll_share_new makes a share handle that shares the kinds in what
// (a bit per CURL_LOCK_DATA_*), with locking when locked is set; NULL and
// *rc on failure.
struct curlpoll_share *curlpoll_share_new(unsigned what, int locked, CURLSHcode *rc) {
	struct curlpoll_share *s = calloc(1, sizeof *s);
	int d;
	*rc = CURLSHE_NOMEM;
	if (s == NULL)
		return NULL;
	s->sh = curl_share_init();
	if (s->sh == NULL) {
		free(s);
		return NULL;
	}
	for (d = 0; d < CURL_LOCK_DATA_LAST; d++)
		pthread_mutex_init(&s->mu[d], NULL);
	*rc = CURLSHE_OK;
	if (locked) {
		*rc = curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock);
		if (*rc == CURLSHE_OK)
			*rc = curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
		if (*rc == CURLSHE_OK)
			*rc = curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
	}
	for (d = 0; d < CURL_LOCK_DATA_LAST && *rc == CURLSHE_OK; d++)
		if (what & (1u << d))
			*rc = curl_share_setopt(s->sh, CURLSHOPT_SHARE, (curl_lock_data)d);
	if (*rc != CURLSHE_OK) {
		curl_share_cleanup(s->sh);
		for (d = 0; d < CURL_LOCK_DATA_LAST; d++)
			pthread_mutex_destroy(&s->mu[d]);
		free(s);
		return NULL;
	}
	return s;
}

// curlpoll_share_free frees s unless easy handles still use it.
CURLSHcode curlpoll_share_free(struct curlpoll_share *s) {
	int d;
	CURLSHcode rc = curl_share_cleanup(s->sh);
	if (rc != CURLSHE_OK)
		return rc;
	for (d = 0; d < CURL_LOCK_DATA_LAST; d++)
		pthread_mutex_destroy(&s->mu[d]);
	free(s);
	return CURLSHE_OK;
}

// curlpoll_run_all runs every transfer of m once (curl_multi_socket_all),
// for the driver's stall rescue. libcurl deprecates the call in favour of
// curl_multi_socket_action, which runs only the transfers whose timers
// expired: a stalled transfer has none. Kept here, where the warning can
// be silenced.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
CURLMcode curlpoll_run_all(CURLM *m, struct curlpoll_multi *s) {
	struct curlpoll_multi *prev = drive_begin(s);
	CURLMcode rc = curl_multi_socket_all(m, &s->running);
	drive_end(s, prev);
	return rc;
}

CURLcode curlpoll_easy_pause(CURL *e, int mask, struct curlpoll_multi *s) {
	struct curlpoll_multi *prev = drive_begin(s);
	CURLcode rc = curl_easy_pause(e, mask);
	drive_end(s, prev);
	return rc;
}

CURLMcode curlpoll_multi_cleanup(CURLM *m, struct curlpoll_multi *s) {
	struct curlpoll_multi *prev = drive_begin(s);
	CURLMcode rc = curl_multi_cleanup(m);
	drive_end(s, prev);
	return rc;
}
#pragma GCC diagnostic pop

int curlpoll_slist_replace(struct curl_slist *l, const char *line, size_t namelen) {
	for (; l != NULL; l = l->next) {
		const char *d = l->data;
		if (d == NULL || !curl_strnequal(d, line, namelen) || (d[namelen] != ':' && d[namelen] != ';'))
			continue;
		// A one-item list makes the copy with libcurl's allocator; the
		// items swap their data, and the old data goes with that list.
		struct curl_slist *tmp = curl_slist_append(NULL, line);
		if (tmp == NULL)
			return -1;
		char *old = l->data;
		l->data = tmp->data;
		tmp->data = old;
		curl_slist_free_all(tmp);
		return 1;
	}
	return 0;
}
