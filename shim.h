// C shims for curlpoll: typed wrappers for libcurl's variadic functions
// (cgo cannot call variadic C) and the trampolines that carry libcurl's
// callbacks to the exported Go functions in callbacks.go.
#ifndef CURLPOLL_SHIM_H
#define CURLPOLL_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

CURLcode curlpoll_setopt_long(CURL *h, CURLoption opt, long v);
CURLcode curlpoll_setopt_off(CURL *h, CURLoption opt, curl_off_t v);
CURLcode curlpoll_setopt_str(CURL *h, CURLoption opt, const char *v);
CURLcode curlpoll_setopt_ptr(CURL *h, CURLoption opt, void *v);
CURLcode curlpoll_setopt_handle(CURL *h, CURLoption opt, uintptr_t v);
CURLcode curlpoll_setopt_blob(CURL *h, CURLoption opt, void *data, size_t len);

CURLcode curlpoll_getinfo_long(CURL *h, CURLINFO info, long *v);
CURLcode curlpoll_getinfo_off(CURL *h, CURLINFO info, curl_off_t *v);
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
	struct curl_slist *list;  // out: the list built and set, now the caller's to free
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
// first that fails; *done is the number set.
CURLcode curlpoll_setopts(CURL *e, struct curlpoll_opt *ops, int n, const char *arena, int *done);

CURLMcode curlpoll_multi_setopt_long(CURLM *m, CURLMoption opt, long v);

// curlpoll_easy_setup installs the callbacks every curlpoll easy handle has,
// all with data h: write, header, read, seek, progress (off until asked for),
// open-socket (close-on-exec) and close-socket, the error buffer and CURLOPT_PRIVATE.
CURLcode curlpoll_easy_setup(CURL *e, uintptr_t h, char *errbuf);

// curlpoll_easy_reset resets e (curl_easy_reset) and runs curlpoll_easy_setup.
CURLcode curlpoll_easy_reset(CURL *e, uintptr_t h, char *errbuf);

// curlpoll_set_debug turns the debug callback (CURLOPT_DEBUGFUNCTION, which
// passes text and header blocks to goDebug) and CURLOPT_VERBOSE on or off.
CURLcode curlpoll_set_debug(CURL *e, int on);

// curlpoll_set_prereq turns the pre-request callback (CURLOPT_PREREQFUNCTION,
// libcurl 7.80.0+) on or off.
CURLcode curlpoll_set_prereq(CURL *e, int on);

// curlpoll_easy_socket_data makes h, a Multi's cgo.Handle, the data of the
// open-socket and close-socket callbacks of the connections e opens.
CURLcode curlpoll_easy_socket_data(CURL *e, uintptr_t h);

// curlpoll_multi_setup installs the socket and timer callbacks with data h.
CURLMcode curlpoll_multi_setup(CURLM *m, uintptr_t h);

// curlpoll_info_read returns 1 and fills easy and result for the next
// CURLMSG_DONE message, 0 when the queue is empty.
int curlpoll_info_read(CURLM *m, CURL **easy, CURLcode *result);

// curlpoll_multi_assign stores id as the socket's private pointer.
CURLMcode curlpoll_multi_assign(CURLM *m, curl_socket_t s, uintptr_t id);

// curlpoll_private returns the easy handle's CURLOPT_PRIVATE, 0 if unset.
uintptr_t curlpoll_private(CURL *e);

#endif
