package curlpoll

// What curlpoll does differently by libcurl version, decided here and
// nowhere else, from the version of the libcurl that runs (not the one
// compiled against: a program built on one may run on another).

// libcurlMultiplexSafe reports whether HTTP/2 multiplexing can be on with
// pause-based backpressure: before 8.1.0 a paused stream can hold up the
// others on its connection (curl#10988) and removing a paused stream leaks
// its buffers (curl#10971). NewMulti turns multiplexing off otherwise.
func libcurlMultiplexSafe() bool { return libcurlVersion() >= 0x080100 }

// MultiplexSafe reports whether the libcurl that runs can multiplex HTTP/2
// streams with pause-based backpressure (8.1.0 and newer): NewMulti turns
// multiplexing on only then (see SetMultiplex), and a transfer may then ask
// to wait for a connection to multiplex on (CURLOPT_PIPEWAIT).
func MultiplexSafe() bool { return libcurlMultiplexSafe() }

// PriorKnowledgeReuseBroken reports whether the libcurl that runs fails
// every request on a reused prior-knowledge HTTP/2 connection
// (HTTPVersion2PriorKnown) with CURLE_HTTP2 (curl#10634, before 8.0.0): such
// transfers should then forbid reuse (CURLOPT_FORBID_REUSE).
func PriorKnowledgeReuseBroken() bool { return libcurlH2CReuseBroken() }

// libcurlH2CReuseBroken reports whether a reused prior-knowledge HTTP/2
// connection fails every request with CURLE_HTTP2 (curl#10634, before
// 8.0.0): the Transport then uses each h2c connection once.
func libcurlH2CReuseBroken() bool { return libcurlVersion() < 0x080000 }

// libcurlKnowsQueueTime reports whether CURLINFO_QUEUE_TIME_T exists
// (8.6.0).
func libcurlKnowsQueueTime() bool { return libcurlVersion() >= 0x080600 }

// libcurlPipewaitStalls reports whether a transfer with CURLOPT_PIPEWAIT
// can wait for good on an idle connection that never carried a response.
//
// From 8.10.0 (for CURL_HTTP_VERSION_2_0) and 8.13.0 (for every version
// that allows HTTP/2 or HTTP/3), libcurl's connection matching
// (url_match_http_multiplex in lib/url.c, unchanged up to 8.22) makes a
// PIPEWAIT transfer wait on any matching connection that has not yet seen
// a response ("Server upgrade does not support multiplex yet, wait"),
// pending until something else in the multi handle moves its queue. When
// every transfer of that connection ended before a response (cancelled,
// reset, timed out), the connection goes idle in the pool with no response
// seen, and every later PIPEWAIT transfer to that origin waits on it
// forever: nothing will ever answer on it, and libcurl checks an idle
// connection for being dead only after that test. 7.88 decided per host,
// once a connection had negotiated, and does not stall. It is libcurl's
// own doing: a C program driving 8.14.1 with curl_multi_perform, one h2c
// transfer that times out unanswered and then a PIPEWAIT one to the same
// origin, saw the second wait until its own timeout (5 s) for an answer
// the server gives at once.
//
// The way around it (Multi.guardReuse): such a transfer runs with
// CURLOPT_FORBID_REUSE until its first header line arrives, so a
// connection whose transfers all end without a response is closed when the
// last one ends, and not left in the pool.
func libcurlPipewaitStalls() bool { return libcurlVersion() >= 0x080A00 }

// libcurlSessionsPerEasy reports whether libcurl keeps TLS sessions per easy
// handle, so that a Multi needs a share of its own for its transfers to
// resume each other's sessions: before 8.12.0, which keeps them per multi
// handle (multi->ssl_scache).
func libcurlSessionsPerEasy() bool { return libcurlVersion() < 0x080C00 }

// libcurlHeaderDangles reports whether libcurl keeps, from one transfer on
// an easy handle to the next, a pointer to the last response header line
// the handle stored (7.83.0 up to 8.0.1: curl#11101, fixed in 8.1.0 by
// cd1c611b24 "headers: clear (possibly) lingering pointer in init").
// Curl_pretransfer frees the stored lines (Curl_headers_cleanup) and leaves
// data->state.prevhead pointing at the last of them; a response whose first
// field line starts with a space or a tab is then an obsolete line folding
// to Curl_headers_push, which appends it to that freed line: a write to
// freed memory that any server can cause. libcurl stores a line before any
// callback sees it, so no callback can stop it; a handle that has received
// header lines starts its next transfer on a duplicate instead, whose
// pointer is NULL (Easy.renew).
func libcurlHeaderDangles() bool {
	v := libcurlVersion()
	return v >= 0x075300 && v < 0x080100
}

// libcurlRetriesPerHandle reports whether libcurl counts the retries of a
// request on a new connection, made when a reused one is found dead, over
// the easy handle's whole life and fails the sixth ("Connection died,
// tried 5 times before giving up"): before 8.17.0 (curl#18926, fixed by
// 5e46318414 "transfer: reset retry count on each request"). Only
// curl_easy_reset or a duplicate of the handle starts the count again.
func libcurlRetriesPerHandle() bool { return libcurlVersion() < 0x081100 }

// libcurlTrailerStateSticks reports whether libcurl's state of a chunked
// upload's trailers outlives the request that sent them: before 8.7.0
// (transfer.c; the upload's readers were rewritten in 8.7.0), the state
// goes from TRAILERS_NONE to TRAILERS_DONE and nothing, curl_easy_reset
// included, sets it back, and the next chunked upload of the handle, or
// the same request sent again (a reused connection found dead), writes
// its chunk's size before the start of the upload buffer (the heap
// corrupted: a crash seen on 7.88.1); it also drops the trailer callback
// once it has called it. A transfer with a trailer function then sends
// its request once, on a handle whose state is fresh (SetTrailerFunc).
func libcurlTrailerStateSticks() bool { return libcurlVersion() < 0x080700 }

// libcurlCopyPostUnterminated reports whether libcurl copies a
// CURLOPT_COPYPOSTFIELDS body of a given size without a terminating NUL
// (before 8.6.0, which copies with Curl_memdup0): a size of -1 set after
// it then has libcurl send the copy up to a NUL byte past its end, reading
// (and sending) the heap beyond it.
func libcurlCopyPostUnterminated() bool { return libcurlVersion() < 0x080600 }
