package curlpoll

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync/atomic"
	"unsafe"
)

// The inline callbacks: see "Inline callbacks" in the package
// documentation (doc.go) for where they run and what they may do.

// ConnInfo describes the connection a request is about to be sent on.
type ConnInfo struct {
	Local  netip.AddrPort
	Remote netip.AddrPort // the server, or the proxy when one is used
}

// prereqFunc is a pre-request function (SetPrereqFunc).
type prereqFunc func(t *Transfer, c ConnInfo) error

// SetPrereqFunc sets an inline function called when the transfer's
// connection is ready (connected, TLS handshake done, a proxy tunnel set up)
// and its request is about to be sent, on a new or a reused connection
// (CURLOPT_PREREQFUNCTION, libcurl 7.80.0+; on older libcurl it returns
// libcurl's error). An error from f aborts the transfer before a byte of
// the request is sent: the transfer's error is an *Error (curl's
// CURLE_ABORTED_BY_CALLBACK) with f's error inside, for errors.Is and
// errors.As. nil removes it. See the package documentation, "Inline callbacks", for where it runs.
func (e *Easy) SetPrereqFunc(f func(t *Transfer, c ConnInfo) error) error {
	if err := e.idle(); err != nil {
		return err
	}
	if (f != nil) != (e.prereqFunc != nil) { // prereq_cb starts or stops calling Go
		on := C.int(0)
		if f != nil {
			on = 1
		}
		if err := optErr(C.CURLOPT_PREREQFUNCTION, C.curlpoll_set_prereq(e.c, e.cs, on)); err != nil {
			return err
		}
	}
	e.prereqFunc = f
	return nil
}

// trailerFunc is a trailer function (SetTrailerFunc).
type trailerFunc func(t *Transfer) ([]string, error)

// SetTrailerFunc sets an inline function that gives the trailer fields of
// an upload sent chunked (CURLOPT_TRAILERFUNCTION): libcurl calls it once,
// when the request body has ended, and sends the lines it returns, each
// "Name: value" without a line ending, after the last chunk. libcurl sends
// a body chunked only over HTTP/1.1, when its size is not set (SetReader
// without SetInFileSize or SetPostFieldSize); over HTTP/2 and HTTP/3 it
// sends no trailers and does not call f. A line that is not a field ("Name"
// a token, then ": ", a value without CR, LF or NUL), which libcurl would
// skip, or an error from f aborts the transfer with an *Error (curl's
// CURLE_ABORTED_BY_CALLBACK) holding the error. nil removes it. See the
// package documentation, "Inline callbacks", for where it runs.
//
// Before libcurl 8.7.0 the state of a trailer section outlives its
// transfer, and a request sent twice with one, or the handle's next chunked
// upload, would corrupt libcurl's heap: there a transfer with a trailer
// function sends its request once (one libcurl would send again fails as
// with SetMaxRequests(1), with ErrRequestLimit), and the handle is renewed
// (see Easy) before its next transfer, even where the duplicate loses what
// the handle held. It needs libcurl 7.80.0 or later (the bound is counted
// in CURLOPT_PREREQFUNCTION), and returns libcurl's error on older ones.
func (e *Easy) SetTrailerFunc(f func(t *Transfer) ([]string, error)) error {
	if err := e.idle(); err != nil {
		return err
	}
	if f != nil && libcurlVersion() < 0x075000 {
		return optErr(C.CURLOPT_PREREQFUNCTION, C.CURLE_UNKNOWN_OPTION)
	}
	if (f != nil) != (e.trailerFunc != nil) {
		on := C.int(0)
		if f != nil {
			on = 1
		}
		if err := optErr(C.CURLOPT_TRAILERFUNCTION, C.curlpoll_set_trailers(e.c, e.cs, on)); err != nil {
			return err
		}
	}
	e.trailerFunc = f
	return nil
}

// trailerLine checks that line is a field as libcurl sends it in a
// trailer: a token, ": ", and a value without CR, LF or NUL.
func trailerLine(line string) error {
	name, value, ok := strings.Cut(line, ": ")
	if !ok || name == "" || strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("curlpoll: trailer line %q is not \"Name: value\"", line)
	}
	for i := range len(name) {
		if !tokenByte(name[i]) {
			return fmt.Errorf("curlpoll: trailer line %q is not \"Name: value\"", line)
		}
	}
	return nil
}

// tokenByte reports whether b may be in an RFC 9110 token (a field name).
func tokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// SetMaxRequests bounds the requests each transfer of the Easy sends: n
// (at least 1), or no bound with 0, the default. libcurl may send a
// transfer's request more than once: again on a new connection when a
// reused one closed before any of the response (as often as 5 times), again
// after a 417 to "Expect: 100-continue" or for an authentication's next
// round, and once per followed redirect. Where it would send one more than
// n, the transfer ends before a byte of it goes out, with an *Error (curl's
// CURLE_ABORTED_BY_CALLBACK) holding ErrRequestLimit. With n = 1 a request
// that is not safe to repeat (a POST) reaches the server at most once, as
// net/http sends a request that is not idempotent. The bound is counted in
// C, in the pre-request callback (libcurl 7.80.0+; on older libcurl a bound
// is refused with libcurl's error). Reset removes it.
func (e *Easy) SetMaxRequests(n int) error {
	if err := e.idle(); err != nil {
		return err
	}
	if n < 0 || int64(n) > math.MaxUint32 {
		return fmt.Errorf("curlpoll: SetMaxRequests(%d): a bound is 0 (none) or more", n)
	}
	if n != 0 && libcurlVersion() < 0x075000 {
		return optErr(C.CURLOPT_PREREQFUNCTION, C.CURLE_UNKNOWN_OPTION)
	}
	e.cs.max_requests = C.uint32_t(n)
	return nil
}

// SetInlineHeaderFunc sets an inline function called with each response
// header line (trailers too), line ending included, before the Transfer
// sees it; line is valid only during the call. An error from f fails the
// transfer with an *Error holding it. Transfer.Header and SetHeaderFunc
// still work beside it. nil removes it. See the package documentation, "Inline callbacks".
func (e *Easy) SetInlineHeaderFunc(f func(t *Transfer, line []byte) error) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.headerHook = f
	return nil
}

// SetInlineDebugFunc turns on libcurl's verbose output and sends it to an
// inline function: informational text and the header blocks sent and
// received, as SetDebugFunc describes them, but with data valid only during
// the call. It replaces SetDebugFunc and SetLogger, and they replace it; nil
// turns verbose output off. See the package documentation, "Inline callbacks".
func (e *Easy) SetInlineDebugFunc(f func(t *Transfer, kind DebugKind, data []byte)) error {
	if f == nil {
		return e.setUserDebug(nil)
	}
	if err := e.setDebug(f); err != nil {
		return err
	}
	e.debugUser = nil
	return nil
}

// TLSState reads the state of the transfer's TLS connection (protocol
// version, cipher suite, ALPN protocol and the peer's certificate chain)
// from libcurl's TLS library, in one call. It works only inside an inline
// callback of the transfer, while it runs (that is when the connection is
// attached); elsewhere, and where TLSStateSupported reports false, it
// returns a TLSState whose OK method reports false.
func (t *Transfer) TLSState() TLSState {
	if !t.inCallback(&t.s.inline) {
		return TLSState{}
	}
	return captureTLS(t.e)
}

// inCallback reports whether the caller is the callback that flag marks,
// running for t's transfer (not a later one of its Easy). The flag says
// that the callback runs, not who calls: another goroutine calling while
// it runs would use the handle that libcurl is using on the driver's
// thread. The driver's thread inside its libcurl call is the one whose
// driving Multi (shim.c) is the transfer's.
func (t *Transfer) inCallback(flag *atomic.Bool) bool {
	if !flag.Load() {
		return false
	}
	t.s.mu.Lock()
	ok, m := t.s.gen == t.gen, t.s.m
	t.s.mu.Unlock()
	return ok && m != nil && uintptr(C.curlpoll_driving()) == m.handle
}

// AddRequestHeader adds a header line ("Name: value", or "Name:" to remove
// a header libcurl would add) to the request about to be sent, after the
// lines of CURLOPT_HTTPHEADER. It works only inside the transfer's
// pre-request function (SetPrereqFunc), where the connection is known and
// the request not yet built: for a header that depends on the connection,
// such as its protocol (Transfer.TLSState's ALPN). Elsewhere it returns an
// error and adds nothing. The line stays in the handle's header list until
// the list is set again or the handle Reset: when libcurl retries a request
// on a new connection (a reused one found dead), it runs the pre-request
// function again, and the lines added the first time are still there.
func (t *Transfer) AddRequestHeader(line string) error {
	return t.setRequestHeader("AddRequestHeader", line, false)
}

// SetRequestHeader is AddRequestHeader, but for a field the header list
// has already ("Name: value" or "Name;", the name compared without regard
// to case) it replaces the first such line instead of adding one: a
// consumer may put its best guess in the list (SetHTTPHeader) and correct
// it once the connection is known, and the list stays the same from
// request to request when the guess is right.
func (t *Transfer) SetRequestHeader(line string) error {
	return t.setRequestHeader("SetRequestHeader", line, true)
}

func (t *Transfer) setRequestHeader(method, line string, replace bool) error {
	if !t.inCallback(&t.s.inPrereq) {
		return errors.New("curlpoll: Transfer." + method + " outside the transfer's pre-request function")
	}
	if err := checkCString(line); err != nil {
		return err
	}
	e := t.e
	cs := C.CString(line)
	defer C.free(unsafe.Pointer(cs))
	l := e.slists[C.CURLOPT_HTTPHEADER]
	if replace {
		name := strings.IndexAny(line, ":;")
		if name <= 0 {
			return fmt.Errorf("curlpoll: Transfer.SetRequestHeader: %q is not a header line", line)
		}
		switch C.curlpoll_slist_replace(l, cs, C.size_t(name)) {
		case 1:
			return nil
		case -1:
			return Code(C.CURLE_OUT_OF_MEMORY)
		}
	}
	nl := C.curl_slist_append(l, cs) // the list's head stays l, if any
	if nl == nil {
		return Code(C.CURLE_OUT_OF_MEMORY)
	}
	if l == nil {
		if err := optErr(C.CURLOPT_HTTPHEADER, C.curlpoll_setopt_ptr(e.c, C.CURLOPT_HTTPHEADER, unsafe.Pointer(nl))); err != nil {
			C.curl_slist_free_all(nl)
			return err
		}
		e.keepList(C.CURLOPT_HTTPHEADER, nl)
	}
	return nil
}

// inlineCall marks t as inside an inline callback while f runs, for
// TLSState. Driver only.
func (t *xfer) inlineCall(f func()) {
	t.inline.Store(true)
	defer t.inline.Store(false)
	f()
}
