// C shims for curlpoll: typed wrappers for libcurl's variadic functions
// (cgo cannot call variadic C) and the trampolines that carry libcurl's
// callbacks to the exported Go functions in callbacks.go.
#ifndef CURLPOLL_SHIM_H
#define CURLPOLL_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <curl/curl.h>

CURLcode curlpoll_setopt_long(CURL *h, CURLoption opt, long v);
CURLcode curlpoll_setopt_off(CURL *h, CURLoption opt, curl_off_t v);
CURLcode curlpoll_setopt_str(CURL *h, CURLoption opt, const char *v);
CURLcode curlpoll_setopt_ptr(CURL *h, CURLoption opt, void *v);
CURLcode curlpoll_setopt_handle(CURL *h, CURLoption opt, uintptr_t v);
CURLcode curlpoll_setopt_blob(CURL *h, CURLoption opt, void *data, size_t len);

// curlpoll_hnd is a libcurl handle (CURL *, CURLM *, CURLSH *) as an
// integer, in the calls made for every transfer: cgo checks each pointer
// argument, void * included, as a possible Go pointer (cgoCheckPointer,
// ~120 instructions a call; about 1,000 per Transport request), and
// libcurl's handle types are void * (CURL_STRICTER, which made them struct
// pointers, is gone since 8.11.0).
typedef uintptr_t curlpoll_hnd;

// curlpoll_getinfo_long and _off return the value with the result, by
// value: a Go variable passed by address would escape to the heap and be
// checked by cgo on every call.
struct curlpoll_long { long v; CURLcode rc; };
struct curlpoll_off { curl_off_t v; CURLcode rc; };
struct curlpoll_long curlpoll_getinfo_long(curlpoll_hnd h, CURLINFO info);
struct curlpoll_off curlpoll_getinfo_off(curlpoll_hnd h, CURLINFO info);
CURLcode curlpoll_getinfo_double(CURL *h, CURLINFO info, double *v);
CURLcode curlpoll_getinfo_str(CURL *h, CURLINFO info, char **v);
CURLcode curlpoll_getinfo_ptr(CURL *h, CURLINFO info, void **v);
CURLcode curlpoll_getinfo_certinfo(CURL *h, struct curl_certinfo **v);
CURLcode curlpoll_getinfo_tls_session(CURL *h, struct curl_tlssessioninfo **v);

// curlpoll_opt is one option setting of a batch (curlpoll_setopts). Values
// that are not numbers live in the batch's arena, at offset at: a
// NUL-terminated string, a blob of n bytes, or a list's n NUL-terminated
// items one after the other.
struct curlpoll_opt {
	CURLoption opt;
	int kind;                 // CURLPOLL_OPT_*
	long long n;              // a long or curl_off_t value, a blob's length, a list's item count
	size_t at;                // where a string, blob or list starts in the arena
	uintptr_t list;           // out: the curl_slist built and set, now the caller's to free (an integer, so that cgo's pointer check need not walk the ops)
};

enum {
	CURLPOLL_OPT_LONG,
	CURLPOLL_OPT_OFF,
	CURLPOLL_OPT_STR,  // libcurl copies the string
	CURLPOLL_OPT_NULL, // a NULL pointer: the option's default
	CURLPOLL_OPT_BLOB, // CURL_BLOB_COPY
	CURLPOLL_OPT_LIST, // a curl_slist, built here
};

// curlpoll_setopts sets the n options of ops in order, stopping at the
// first that fails; done is the number set (returned by value: no Go
// variable escapes to the heap for it).
struct curlpoll_setopts_result { CURLcode rc; int done; };
struct curlpoll_setopts_result curlpoll_setopts(CURL *e, struct curlpoll_opt *ops, int n, const char *arena);

CURLMcode curlpoll_multi_setopt_long(CURLM *m, CURLMoption opt, long v);

// curlpoll_easy is the C side of an Easy, the data of its write and header
// callbacks. The header callback collects lines in hdr and passes them to
// goHeaders a block at a time: at the blank line that ends a block, before
// a line that does not fit in CURLPOLL_HDR_MAX bytes, before body data, and
// when the transfer ends (curlpoll_done). The Easy owns it: curlpoll_easy_new
// and curlpoll_easy_free.
struct curlpoll_easy {
	uintptr_t handle; // the Easy's handle (handles.go)
	struct curlpoll_multi *multi; // the Multi running the transfer (its count of header lines, its corks), or NULL
	uint64_t nlines;  // header lines this handle received (the stall rescue)
	char *hdr;        // lines not yet passed on, each a uint32_t length and its bytes
	size_t len, cap;  // of hdr
	// reuse_guard is the handle itself while it runs with
	// CURLOPT_FORBID_REUSE until its first header line (Multi.guardReuse):
	// header_cb turns the option off then, curlpoll_done at the latest.
	CURL *reuse_guard;
	// defer_hdr keeps a complete header block in hdr until the body's
	// first bytes (or the transfer's end) instead of passing it to Go at
	// its blank line: set by the driver for transfers no one waits on for
	// their header block (Multi.Do), it saves a crossing into Go.
	int defer_hdr;
	// want_prereq passes prereq_cb's calls to Go (goPrereq): the Easy has
	// a pre-request function (SetPrereqFunc; curlpoll_set_prereq).
	int want_prereq;
	// attempts counts the requests the transfer sent (prereq_cb, once per
	// request: a retry, a followed redirect and an authentication's next
	// round each send one more); the driver zeroes it before the add.
	uint32_t attempts;
	// max_requests bounds the requests a transfer sends (SetMaxRequests),
	// 0 none: prereq_cb aborts the first beyond it, and sets over_limit,
	// which the driver zeroes before the add.
	uint32_t max_requests;
	int over_limit;
	// trailers_once bounds the transfer to one request, as max_requests
	// 1 does, where its trailer function must not run twice on one
	// handle (libcurlTrailerStateSticks); set by the driver before the add.
	int trailers_once;
	// no_reneg and want_client_cert say what the OpenSSL SSL_CTX function
	// (tlsstate_openssl.go) does to each new connection's context, with
	// this struct as its data: refuse renegotiation (SetTLSRenegotiation),
	// ask Go for a client certificate when the server requests one
	// (SetClientCertFunc).
	int no_reneg, want_client_cert;
	// redirects is libcurl's count of the redirects the transfer followed
	// (CURLINFO_REDIRECT_COUNT: an authentication's next round and a
	// request sent again after a 417 count too), which curlpoll_done reads
	// only where attempts is above 1 (0 otherwise).
	uint32_t redirects;
	// dial says the Easy's TCP connections are made by its dial function
	// (Easy.SetDialFunc; open_cb, goDialSocket).
	int dial;
};

#define CURLPOLL_HDR_MAX (16 * 1024)

struct curlpoll_easy *curlpoll_easy_new(uintptr_t h);
void curlpoll_easy_free(struct curlpoll_easy *s);

// curlpoll_easy_setup installs the callbacks every curlpoll easy handle has:
// write and header with data s, and with data s->handle read, seek,
// progress (off until asked for), open-socket (close-on-exec) and
// close-socket, the error buffer and CURLOPT_PRIVATE.
CURLcode curlpoll_easy_setup(CURL *e, struct curlpoll_easy *s, char *errbuf);

// curlpoll_easy_reset resets e (curl_easy_reset) and runs curlpoll_easy_setup.
CURLcode curlpoll_easy_reset(CURL *e, struct curlpoll_easy *s, char *errbuf);

// curlpoll_renew is what curlpoll_easy_renew puts back on the duplicate
// that curl_easy_duphandle leaves out (before 8.1.0). See Easy.renew.
struct curlpoll_renew {
	CURLSH *share;          // CURLOPT_SHARE, or NULL
	int flags;              // CURLPOLL_RENEW_*
	long altsvc_ctrl;       // CURLOPT_ALTSVC_CTRL, if not 0
	const char *altsvc;     // CURLOPT_ALTSVC, if not NULL
	const char *aws_sigv4;  // CURLOPT_AWS_SIGV4, if not NULL (dupset copies strings only up to STRING_LASTZEROTERMINATED)
	long httpauth;          // CURLOPT_HTTPAUTH, if it has CURLAUTH_DIGEST_IE (kept in state.authhost.iestyle) or aws_sigv4 is set (which sets it)
	long proxyauth;         // CURLOPT_PROXYAUTH, likewise
};
enum {
	CURLPOLL_RENEW_COOKIES = 1,    // carry the cookies over (a cookie engine not shared)
	CURLPOLL_RENEW_HSTS_LIST = 2,  // old has CURLOPT_HSTS files (a list duphandle shares)
	CURLPOLL_RENEW_EMPTY_POST = 4, // old has a CURLOPT_COPYPOSTFIELDS body of size 0 (which duphandle leaves pointing at old's): freed first
};

// curlpoll_easy_renew replaces old, an idle handle in no multi handle, by a
// duplicate (curl_easy_duphandle) with its options and what r says; then
// frees old. It returns the duplicate, or why there is none. r comes and
// the result goes by value: no Go variable escapes to the heap for them.
struct curlpoll_renewed { CURL *h; CURLcode rc; };
struct curlpoll_renewed curlpoll_easy_renew(curlpoll_hnd old, struct curlpoll_renew r);

// curlpoll_set_debug turns the debug callback (CURLOPT_DEBUGFUNCTION, which
// passes text and header blocks to goDebug) and CURLOPT_VERBOSE on or off.
CURLcode curlpoll_set_debug(CURL *e, int on);

// curlpoll_set_prereq passes the pre-request callback (CURLOPT_PREREQFUNCTION,
// libcurl 7.80.0+, installed on every handle to count requests) on to Go,
// or stops it; libcurl's error where it has no such option.
CURLcode curlpoll_set_prereq(CURL *e, struct curlpoll_easy *s, int on);

// curlpoll_go_client_cert passes an OpenSSL certificate callback's call,
// for s's handle and its connection ssl (an SSL*), to Go (goClientCert):
// 1 when done (a certificate set on ssl, or none to send), 0 to fail the
// handshake.
int curlpoll_go_client_cert(struct curlpoll_easy *s, void *ssl);

// curlpoll_set_trailers sets the trailer callback (CURLOPT_TRAILERFUNCTION,
// which passes the call to goTrailers, with data s) or removes it.
CURLcode curlpoll_set_trailers(CURL *e, struct curlpoll_easy *s, int on);

// curlpoll_info is what a finished transfer leaves to know about it, read
// with one call from Go.
struct curlpoll_info {
	// CURLINFO_*_TIME_T: name lookup, connect, app connect, pre-transfer,
	// start transfer, total, redirect, and queue (libcurl 8.6.0+).
	curl_off_t times[8];
	long primary_port, local_port, num_connects;
	long os_errno;                      // CURLINFO_OS_ERRNO
	char primary_ip[64], local_ip[64]; // "" if unknown
	CURLINFO failed;                    // the first info libcurl refused, 0 if none
	CURLcode rc;                        // and why
};

// curlpoll_msg is a CURLMSG_DONE message, copied: the easy handle's
// CURLOPT_PRIVATE (0 if unset) and the transfer's result.
struct curlpoll_msg {
	uintptr_t priv;
	CURLcode result;
};

#define CURLPOLL_MSGS 64

// curlpoll_multi is the C side of a Multi: what its timer callback and its
// transfers' header callbacks record without calling into Go, for the
// Multi's driver to read after each libcurl call. The Multi owns it.
// CURLPOLL_SOCKEVS bounds the socket callbacks recorded in C before the
// driver takes them in; a callback that finds the record full crosses into
// Go to hand them over first.
#define CURLPOLL_SOCKEVS 64

// curlpoll_sockev is one socket callback: libcurl's interest what
// (CURL_POLL_*) in socket fd.
struct curlpoll_sockev {
	int fd;
	int what;
};

// CURLPOLL_CORKS bounds the sockets a Multi corks in one libcurl call
// (cork.c).
#define CURLPOLL_CORKS 16

// curlpoll_cork is a socket fd with a request sent on it in the running
// libcurl call, corked if on; gen is its curlpoll_numgens count then.
struct curlpoll_cork {
	int fd, on;
	uint32_t gen;
};

// CURLPOLL_CORK_HOLD_NS bounds the time calls into Go may take while a
// socket is corked, within one libcurl call (cork.c).
#define CURLPOLL_CORK_HOLD_NS 500000

struct curlpoll_multi {
	uintptr_t handle;          // the Multi's handle (handles.go; goSockets)
	int nsock;                 // socket callbacks recorded in sockevs, not yet taken in by Go
	struct curlpoll_sockev sockevs[CURLPOLL_SOCKEVS];
	uint64_t header_lines;     // lines the header callbacks collected (the spin guard's progress)
	long add_errno;            // curlpoll_add's results: CURLINFO_OS_ERRNO before the add,
	int add_shared;            // and whether it set the share
	long timeout_ms;           // the timer callback's last timeout
	int timer_set;             // a timer callback came since the driver last looked
	long timer_calls[3];       // timer callbacks with a timeout of -1, 0, more
	struct curlpoll_info info; // the driver's curlpoll_done result (no Go allocation per transfer)
	struct curlpoll_msg msgs[CURLPOLL_MSGS]; // curlpoll_info_read's results
	int running;               // curl_multi_socket_action's count (no Go allocation per call)
	int h2_seen;               // a transfer ended as HTTP/2: corking is on (cork.c)
	int ncork;                 // sockets in corks, for the running libcurl call
	int corks_on;              // of them corked
	int64_t cork_go_ns;        // time spent in calls into Go while corks_on
	struct curlpoll_cork corks[CURLPOLL_CORKS];
	uint64_t corked;           // sockets corked, in all (the tests' count)
};

// Corking (cork.c). curlpoll_cork_opened notes a socket the open-socket
// callback made; curlpoll_cork_learn learns fd's local port if it is a TCP
// socket so made (the socket callback, for each socket announced);
// curlpoll_cork_done marks the socket of e's connection, local port
// local_port, as HTTP/2 if e's transfer was; curlpoll_cork_request notes a
// request about to go out on the connection with local port local_port
// (the pre-request callback), corking its socket from the second on;
// curlpoll_uncork uncorks what m corked, after each libcurl call its
// driver makes (drive_end). Each callback's call into Go is timed between
// CURLPOLL_GO_BEGIN and CURLPOLL_GO_END while m has a socket corked: past
// CURLPOLL_CORK_HOLD_NS in all, what the corks hold is sent.
void curlpoll_cork_opened(int fd, int family, int socktype);
void curlpoll_cork_learn(int fd);
void curlpoll_cork_done(struct curlpoll_multi *m, CURL *e, long local_port);
void curlpoll_cork_request(struct curlpoll_multi *m, long local_port);
void curlpoll_uncork(struct curlpoll_multi *m);
int64_t curlpoll_cork_go_begin(void);
void curlpoll_cork_go_end(struct curlpoll_multi *m, int64_t t0);
#define CURLPOLL_GO_BEGIN(m) int64_t cork_t0_ = (m) != NULL && (m)->corks_on ? curlpoll_cork_go_begin() : 0
#define CURLPOLL_GO_END(m) do { if (cork_t0_ != 0) curlpoll_cork_go_end((m), cork_t0_); } while (0)

// curlpoll_driving_multi returns the Multi driving on this thread, or NULL
// (curlpoll_driving).
struct curlpoll_multi *curlpoll_driving_multi(void);

// curlpoll_multi_setup installs the socket and timer callbacks, both with
// data s, and keeps the Multi's handle h in s.
CURLMcode curlpoll_multi_setup(CURLM *m, uintptr_t h, struct curlpoll_multi *s);

// curlpoll_info_read copies up to CURLPOLL_MSGS CURLMSG_DONE messages
// (curl_multi_info_read) into s->msgs and returns how many.
int curlpoll_info_read(CURLM *m, struct curlpoll_multi *s);

// curlpoll_info fills out for e. queue asks for the queue time, which only
// libcurl 8.6.0+ knows; an unknown queue time, address or port reads as 0.
void curlpoll_info(CURL *e, int queue, struct curlpoll_info *out);

// curlpoll_done ends e's transfer on m: it passes the header lines still
// collected in s to Go (a trailer block need not end with a blank line),
// fills ms->info (curlpoll_info), removes e from m (curl_multi_remove_handle)
// and, if unshare is set, takes its share off (CURLOPT_SHARE NULL). It
// returns 0 if Go refused the lines.
int curlpoll_done(curlpoll_hnd m, curlpoll_hnd e, struct curlpoll_easy *s, int queue, struct curlpoll_multi *ms, int unshare);

// curlpoll_add adds e to m (curl_multi_add_handle), first setting share on
// it (CURLOPT_SHARE) unless share is 0, and reading its
// CURLINFO_OS_ERRNO: in s->add_shared whether the share was set, in
// s->add_errno the errno (0 if unknown).
CURLMcode curlpoll_add(curlpoll_hnd m, curlpoll_hnd e, curlpoll_hnd share, struct curlpoll_multi *s);

// curlpoll_socket_action is curl_multi_socket_action, its count of running
// transfers in s->running.
CURLMcode curlpoll_socket_action(curlpoll_hnd m, curl_socket_t fd, int ev, struct curlpoll_multi *s);

// curlpoll_run_all runs every transfer of m once (curl_multi_socket_all).
CURLMcode curlpoll_run_all(CURLM *m, struct curlpoll_multi *s);
// curlpoll_driving returns the handle of the Multi whose driver is in a
// libcurl call on this thread (the calls here that take the Multi's
// curlpoll_multi: add, socket action, done, run all, pause, cleanup), 0 if
// none: callbacks running inside such a call see it.
uintptr_t curlpoll_driving(void);

// curlpoll_numgens counts, per descriptor number below CURLPOLL_NUMGENS,
// the sockets that open_cb opened and close_cb closed under it,
// process-wide. A Multi whose socket another Multi's driver, or
// curl_share_cleanup, closed hears nothing of it (close_cb tells the Multi
// driving on its thread): the count tells it, when the number comes back,
// that what it knew of the number is stale (fdwatch.go). Changed with
// atomic adds, read with atomic loads. Numbers from CURLPOLL_NUMGENS up
// have no count (a shared one would make a Multi drop a live socket's
// events): for them a Multi learns nothing, as before the table.
#define CURLPOLL_NUMGENS (1 << 17)
extern uint32_t curlpoll_numgens[CURLPOLL_NUMGENS];

// curlpoll_easy_pause is curl_easy_pause on the driver of s's Multi.
CURLcode curlpoll_easy_pause(CURL *e, int mask, struct curlpoll_multi *s);
// curlpoll_multi_cleanup is curl_multi_cleanup, the close-socket callbacks
// it makes going to s's Multi (s may be NULL: to none).
CURLMcode curlpoll_multi_cleanup(CURLM *m, struct curlpoll_multi *s);

// curlpoll_share is a share handle (curl_share_init) with a mutex per kind
// of data, for its lock callbacks when it is locked (a Share may serve
// transfers on several Multis, each on its own driver, at once).
struct curlpoll_share {
	CURLSH *sh;
	pthread_mutex_t mu[CURL_LOCK_DATA_LAST];
};

// curlpoll_share_new makes a share of the kinds in what (a bit per
// CURL_LOCK_DATA_*), with locking when locked is set; NULL and *rc on
// failure. curlpoll_share_free frees it unless easy handles still use it.
struct curlpoll_share *curlpoll_share_new(unsigned what, int locked, CURLSHcode *rc);
CURLSHcode curlpoll_share_free(struct curlpoll_share *s);

// curlpoll_slist_replace replaces, in list l, the data of the first item
// whose field name is the first namelen bytes of line (compared as libcurl
// does, case-insensitively, followed by ':' or ';') with a copy of line.
// It returns 1 when an item was replaced, 0 when none has the name, and -1
// when out of memory.
int curlpoll_slist_replace(struct curl_slist *l, const char *line, size_t namelen);

#endif
