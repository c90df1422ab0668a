// curl_multi_socket_all for the driver's stall rescue (timer.go). libcurl
// 8.x marks it deprecated; it is the one call of the multi-socket API that
// runs every transfer, not only those whose timers expired.
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

CURLMcode curlpoll_multi_socket_all(CURLM *m, int *running) {
	return curl_multi_socket_all(m, running);
}
