// The C side of MIME parts (mime.go): the read and seek callbacks of parts
// that an io.Reader feeds, carried to goMIMERead and goMIMESeek with the
// part's cgo.Handle.
#include "shim.h"
#include "_cgo_export.h"

static size_t mime_read_cb(char *p, size_t size, size_t n, void *arg) {
	struct curlpoll_multi *m = curlpoll_driving_multi();
	CURLPOLL_GO_BEGIN(m);
	size_t ret = goMIMERead((uintptr_t)arg, p, size * n);
	CURLPOLL_GO_END(m);
	return ret;
}

static int mime_seek_cb(void *arg, curl_off_t offset, int origin) {
	struct curlpoll_multi *m = curlpoll_driving_multi();
	CURLPOLL_GO_BEGIN(m);
	int ret = goMIMESeek((uintptr_t)arg, offset, origin);
	CURLPOLL_GO_END(m);
	return ret;
}

CURLcode curlpoll_mime_reader(curl_mimepart *part, curl_off_t size, uintptr_t h) {
	return curl_mime_data_cb(part, size, mime_read_cb, mime_seek_cb, NULL, (void *)h);
}

CURLcode curlpoll_mime_bytes(curl_mimepart *part, const char *data, size_t n) {
	// NULL would unset the part's data; an empty part is "" of size 0.
	return curl_mime_data(part, n > 0 ? data : "", n);
}
