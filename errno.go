package curlpoll

// #include "shim.h"
import "C"

import (
	"strings"
	"syscall"
)

// The errno of a transfer (Error.Errno, CURLINFO_OS_ERRNO).
//
// libcurl records the errno of a failing system call (a refused connect, a
// reset on send or receive) in the easy handle, where it stays: before
// libcurl 8.x nothing clears it when the handle's next transfer starts on
// a multi handle (newer ones clear it in curl_multi_add_handle), nor does
// curl_easy_reset. Read as a transfer ends, it gave a name lookup or a TLS
// failure the ECONNREFUSED of an earlier transfer on the same handle; the
// Transport reuses its handles, so any request could.
//
// So the value is read as the transfer starts, by the driver as it adds
// the handle (curlpoll_add, in C), and the value at the
// end counts (transferErrno) when:
//   - it differs from the start's: libcurl wrote it during this transfer;
//   - or it is the same, and the transfer failed to connect
//     (CURLE_COULDNT_CONNECT): libcurl records the errno of every failed
//     connect attempt, so two refused connects in a row both carry
//     ECONNREFUSED;
//   - or it is the same, and this transfer's error text names it, as
//     libcurl's "Recv failure: Connection reset by peer" does (curlpoll
//     empties the error buffer as each transfer starts).
// An unchanged value after any other failure (a name lookup, a TLS alert,
// a verification, a proxy's refusal) is a leftover, and dropped: such a
// failure could lose a real errno equal to the previous transfer's, but
// never reports a stale one. One hole is left on libcurl 7.x: a connect
// that fails because no socket could be made (socket(2) failing, as with
// EMFILE) records no errno, and would show the previous transfer's if that
// was a failed connect too. On libcurl 8.x the start's value is 0, and the
// end's is always exact.

// A failed receive or send names its errno in the error text ("Recv
// failure: Connection reset by peer"), and the value at the end can be a
// later call's: on libcurl 7.88 a reset under TLS ends with EPIPE, from
// the alert OpenSSL then tries to send. Where the text names another of
// the errnos a broken connection gives than the end's, the text's counts.

// transferErrno returns the errno that belongs to a transfer that ended
// with rc, error text detail and CURLINFO_OS_ERRNO end, and started with
// base.
func transferErrno(rc C.CURLcode, detail string, base, end C.long) C.long {
	if rc == C.CURLE_RECV_ERROR || rc == C.CURLE_SEND_ERROR {
		if named := namedErrno(detail); named != 0 && named != syscall.Errno(end) {
			return C.long(named)
		}
	}
	if end == 0 || end != base || rc == C.CURLE_COULDNT_CONNECT {
		return end
	}
	if msg := syscall.Errno(end).Error(); msg != "" && strings.Contains(strings.ToLower(detail), msg) {
		return end
	}
	return 0
}

// brokenConnErrnos are the errnos of a connection broken under a transfer,
// which a receive or send failure's text may name.
var brokenConnErrnos = [...]syscall.Errno{syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN}

// namedErrno returns the errno of brokenConnErrnos whose message detail
// names, 0 if none.
func namedErrno(detail string) syscall.Errno {
	d := strings.ToLower(detail)
	for _, e := range brokenConnErrnos {
		if strings.Contains(d, strings.ToLower(e.Error())) {
			return e
		}
	}
	return 0
}
