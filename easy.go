package curlpoll

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// liveEasies counts easy handles between curl_easy_init and
// curl_easy_cleanup, for leak checks.
var liveEasies atomic.Int64

// Easy is a libcurl easy handle: the options of one transfer at a time. Set
// options, then run it with Multi.Do or Multi.Start; when the transfer is
// over, read its results (ResponseCode, Timings, ...) and reuse it for the
// next transfer, which keeps libcurl's per-handle caches warm. (Before
// libcurl 8.1.0 each transfer after the first runs on a duplicate handle
// with the same options, cookies and Share: that libcurl leaves a pointer
// to freed memory in the handle, curl#11101. Up to 8.16.x, one after a
// transfer that sent more than one request or failed does, so that
// libcurl's count of retries starts again, curl#18926; and before 8.7.0,
// one after a transfer with a trailer function; see renewNeeded.)
//
// An Easy is not for concurrent use, and while a transfer runs it belongs to
// the Multi: setters, getters, Reset and Close return ErrBusy until the
// transfer's Close (Do does that itself). Close frees the handle; an Easy
// that is never closed leaks its C memory.
type Easy struct {
	c      unsafe.Pointer          // CURL*
	handle uintptr                 // passed to every callback as data (easyHandles); deleted by Close
	errbuf *C.char                 // CURLOPT_ERRORBUFFER, CURL_ERROR_SIZE bytes of C memory
	cs     *C.struct_curlpoll_easy // the write and header callbacks' data: the handle and the header lines not yet passed to Go

	// mu guards busy, closed and multi.
	mu     sync.Mutex
	busy   bool
	closed bool
	// multi is the Multi the handle last ran on. Cleaning up or resetting
	// the handle can still call into that multi handle: libcurl 7.88
	// removes a transfer's DoH lookups from it only then
	// (Curl_free_request_state), firing its socket callbacks. So Close,
	// and the Reset of a handle that used DoH, run on its driver while it
	// is open.
	multi *Multi

	// C memory that libcurl keeps pointers to, freed when replaced or by Close.
	slists map[C.CURLoption]*C.struct_curl_slist

	// Go-side options; read by the Multi while a transfer runs.
	writer         io.Writer
	reader         io.Reader
	rewind         func() (io.Reader, error)
	headerFunc     func(line []byte) error
	headerHook     func(t *Transfer, line []byte) error // SetInlineHeaderFunc
	progressFunc   func(Progress) error
	progressGap    time.Duration  // SetProgressInterval
	debugFunc      debugFunc      // inside libcurl: SetInlineDebugFunc, or queueDebug
	debugUser      debugFunc      // SetDebugFunc, SetLogger: run by runHooks
	prereqFunc     prereqFunc     // SetPrereqFunc
	trailerFunc    trailerFunc    // SetTrailerFunc
	clientCertFunc clientCertFunc // SetClientCertFunc
	dialFunc       DialFunc       // SetDialFunc
	// trailersRan says the handle ran a transfer with a trailer function
	// where libcurl's trailer state sticks (libcurlTrailerStateSticks):
	// it is renewed before its next transfer. Reset keeps it (the state
	// outlives curl_easy_reset); renew clears it.
	trailersRan bool
	follow      bool
	doh         bool                       // a DoH URL was set since the last Reset (SetDoHURL)
	caFiles     map[C.CURLoption]caFileKey // CA files standing in for CA blobs (cafile.go)
	share       *Share                     // SetShare's
	multiShared bool                       // the running Multi's own share is set (Multi.add)
	pipeWait    bool                       // CURLOPT_PIPEWAIT is on (noteLong)
	forbidReuse bool                       // CURLOPT_FORBID_REUSE is on (noteLong)
	notes       protoNotes                 // what checkStart looks at (startcheck.go)
	mime        *mimeState                 // CURLOPT_MIMEPOST's curl_mime (mime.go)

	// cur is the transfer running on this handle; only the Multi's driver
	// goroutine touches it, between add and remove.
	cur *xfer

	// xf is the state of this handle's transfers, made by its first and
	// reused by the next (transfer.go); touched by the goroutine that
	// holds the handle (acquire) and, under its mutex, by the transfer.
	xf *xfer

	// ran says a transfer has been started on the handle (renewed or not,
	// since NewEasy): libcurl may have stored a header line for it, and
	// the next must start on a renewed handle (see renew).
	ran bool
	// renewDue says the driver renews the handle before it adds it
	// (Multi.add; see renew). Set by start, cleared by the driver.
	renewDue bool
	// resent says libcurl's retry count may have risen (see renewNeeded):
	// the handle's last transfer sent more than one request, as a retry
	// does, or failed or was stopped (a retry is counted before it is sent,
	// and its connection may fail). Set by the driver as the transfer ends
	// (prereq_cb counts the requests); cleared by Reset and renew.
	resent bool
	// cookies says a cookie option (CURLOPT_COOKIEFILE, COOKIEJAR,
	// COOKIELIST) was set: libcurl may hold a cookie jar, which outlives
	// Reset, and which renew copies line by line and the old handle's
	// cleanup may write to a file; so renew runs in start (see renewCostly).
	cookies bool
}

// NewEasy creates an easy handle (curl_easy_init) with curlpoll's fixed
// settings: CURLOPT_NOSIGNAL, an error buffer, close-on-exec sockets,
// CURLOPT_SUPPRESS_CONNECT_HEADERS and CURLOPT_QUICK_EXIT, and the write,
// header, read, seek and progress callbacks that connect it to Go. It also
// clears CURLOPT_CAPATH, so that certificates are verified against the CA
// bundle file alone (see SetCAPath): libcurl caches that bundle in the
// multi handle only without a CA directory, and parsing it costs about
// 20 ms per new TLS connection otherwise.
func NewEasy() (*Easy, error) {
	if err := globalInit(); err != nil {
		return nil, err
	}
	c := C.curl_easy_init()
	if c == nil {
		return nil, fmt.Errorf("curlpoll: curl_easy_init failed")
	}
	e := &Easy{c: c, errbuf: (*C.char)(C.calloc(C.CURL_ERROR_SIZE, 1)), notes: newProtoNotes()}
	e.handle = easyHandles.add(e)
	e.cs = C.curlpoll_easy_new(C.uintptr_t(e.handle))
	liveEasies.Add(1)
	if e.errbuf == nil || e.cs == nil {
		e.free()
		return nil, ErrOutOfMemory
	}
	if err := e.setup(); err != nil {
		e.free()
		return nil, err
	}
	return e, nil
}

func (e *Easy) setup() error {
	return codeErr(C.curlpoll_easy_setup(e.c, e.cs, e.errbuf))
}

// Reset returns every option to its default (curl_easy_reset), keeping the
// handle's connections and caches, and re-applies curlpoll's fixed settings,
// in one cgo call. Only a handle that has used DoH is reset on the driver of
// the Multi it last ran on (see onLastMulti).
func (e *Easy) Reset() error {
	if err := e.idle(); err != nil {
		return err
	}
	var rc C.CURLcode
	if e.doh {
		e.onLastMulti(func() { rc = e.reset() })
		e.doh = false
	} else {
		// Without DoH lookups curl_easy_reset does not touch the multi
		// handle: no hop to its driver, and no closure to allocate.
		rc = e.reset()
	}
	e.cs.len, e.cs.multi = 0, nil
	e.freeSlists()
	e.writer, e.reader, e.rewind, e.headerFunc, e.progressFunc, e.follow = nil, nil, nil, nil, nil, false
	e.headerHook = nil
	e.progressGap, e.debugFunc, e.debugUser, e.prereqFunc, e.trailerFunc = 0, nil, nil, nil, nil
	e.pipeWait, e.forbidReuse = false, false
	e.dialFunc, e.cs.dial = nil, 0
	e.cs.max_requests = 0
	e.cs.no_reneg, e.cs.want_client_cert, e.clientCertFunc = 0, 0, nil // curl_easy_reset took the SSL_CTX function off
	e.resent = false                                                   // curl_easy_reset clears libcurl's retry count
	e.notes = newProtoNotes()
	e.freeMIME()
	e.dropCAFiles()
	if e.share != nil { // curl_easy_reset keeps the share
		C.curlpoll_setopt_ptr(e.c, C.CURLOPT_SHARE, nil)
		e.share = nil
	}
	return codeErr(rc)
}

func (e *Easy) reset() C.CURLcode {
	return C.curlpoll_easy_reset(e.c, e.cs, e.errbuf)
}

// onLastMulti runs fn, a libcurl call on the handle that may call into the
// multi handle it last ran on, on that Multi's driver; directly if there is
// none or it is closed, once its driver has stopped (curl_multi_cleanup has
// then let go of everything). A Multi refuses messages from the start of
// its shutdown, while its driver still calls libcurl: running fn at once
// then would call libcurl on two goroutines.
func (e *Easy) onLastMulti(fn func()) {
	e.mu.Lock()
	m := e.multi
	e.mu.Unlock()
	onDriverOf(m, fn)
}

// onDriverOf runs fn on m's driver, as onLastMulti.
func onDriverOf(m *Multi, fn func()) {
	if m == nil {
		fn()
		return
	}
	if m.exec(func() error { fn(); return nil }) != nil {
		<-m.done
		fn()
	}
}

// Close frees the handle (curl_easy_cleanup). It returns ErrBusy while a
// transfer uses the handle; closing twice is harmless.
func (e *Easy) Close() error {
	e.mu.Lock()
	if e.busy {
		e.mu.Unlock()
		return ErrBusy
	}
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.onLastMulti(e.free)
	return nil
}

func (e *Easy) free() {
	C.curl_easy_cleanup(e.c)
	e.c = nil
	e.freeSlists()
	e.freeMIME()
	e.dropCAFiles()
	C.curlpoll_easy_free(e.cs)
	e.cs = nil
	C.free(unsafe.Pointer(e.errbuf))
	easyHandles.delete(e.handle)
	liveEasies.Add(-1)
}

func (e *Easy) freeSlists() {
	for opt, l := range e.slists {
		C.curl_slist_free_all(l)
		delete(e.slists, opt)
	}
}

// idle returns an error unless the handle is open and no transfer uses it.
func (e *Easy) idle() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.idleLocked()
}

func (e *Easy) idleLocked() error {
	switch {
	case e.closed:
		return fmt.Errorf("curlpoll: easy handle: %w", ErrClosed)
	case e.busy:
		return ErrBusy
	}
	return nil
}

// acquire marks the handle busy for a transfer on m, and returns the
// Multi it last ran on.
func (e *Easy) acquire(m *Multi) (prev *Multi, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.idleLocked(); err != nil {
		return nil, err
	}
	e.busy = true
	prev, e.multi = e.multi, m
	// Plain stores to C memory, not calls into C: the handle is idle.
	*e.errbuf = 0
	e.cs.len = 0 // curlpoll_done passes on every line; this is for safety
	return prev, nil
}

// unacquire undoes acquire for a transfer that never ran: prev stays the
// Multi the handle last ran on.
func (e *Easy) unacquire(prev *Multi) {
	e.mu.Lock()
	e.busy = false
	e.multi = prev
	e.mu.Unlock()
}

func (e *Easy) release() {
	e.mu.Lock()
	e.busy = false
	e.mu.Unlock()
}

// The setopt funnels: the only callers of curl_easy_setopt.

func (e *Easy) setLong(opt C.CURLoption, v int64) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.guardPostSize(opt, v)
	if err := optErr(opt, C.curlpoll_setopt_long(e.c, opt, C.long(v))); err != nil {
		return err
	}
	e.noteLong(opt, v)
	return nil
}

// guardPostSize drops a body from memory copied with its size before the
// size becomes -1 where libcurl would then read past the copy (see
// libcurlCopyPostUnterminated): the body is then read (SetReader), as
// SetPostFieldSize says.
func (e *Easy) guardPostSize(opt C.CURLoption, v int64) {
	if (opt == C.CURLOPT_POSTFIELDSIZE || opt == C.CURLOPT_POSTFIELDSIZE_LARGE) && v == -1 &&
		e.notes.copyPost && libcurlCopyPostUnterminated() {
		C.curlpoll_setopt_ptr(e.c, C.CURLOPT_COPYPOSTFIELDS, nil)
		e.notes.copyPost = false
	}
}

// noteLong records the long options that the driver must know of
// (Multi.guardReuse) once libcurl has taken them.
func (e *Easy) noteLong(opt C.CURLoption, v int64) {
	switch opt {
	case C.CURLOPT_PIPEWAIT:
		e.pipeWait = v != 0
	case C.CURLOPT_FORBID_REUSE:
		e.forbidReuse = v != 0
	case C.CURLOPT_UPLOAD:
		e.notes.upload = v != 0
	case C.CURLOPT_HSTS_CTRL:
		e.notes.hstsOn = v&C.CURLHSTS_ENABLE != 0
	case C.CURLOPT_ALTSVC_CTRL:
		e.notes.altsvcCtrl = v
	case C.CURLOPT_HTTP_VERSION:
		e.notes.httpVersion = v
	case C.CURLOPT_HTTPAUTH:
		e.notes.httpAuth = v
	case C.CURLOPT_PROXYAUTH:
		e.notes.proxyAuth = v
	case C.CURLOPT_POSTFIELDSIZE, C.CURLOPT_POSTFIELDSIZE_LARGE:
		if v > e.notes.postSize {
			e.notes.copyPost = false // libcurl drops a copied body then (setopt.c)
		}
		e.notes.postSize = v
	}
}

func (e *Easy) setOff(opt C.CURLoption, v int64) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.guardPostSize(opt, v)
	if err := optErr(opt, C.curlpoll_setopt_off(e.c, opt, C.curl_off_t(v))); err != nil {
		return err
	}
	e.noteLong(opt, v)
	return nil
}

func (e *Easy) setBool(opt C.CURLoption, v bool) error {
	var n int64
	if v {
		n = 1
	}
	return e.setLong(opt, n)
}

// setString sets a string option; libcurl copies the string. The empty
// string sets NULL, which restores the option's default.
func (e *Easy) setString(opt C.CURLoption, v string) error {
	if err := e.idle(); err != nil {
		return err
	}
	var rc C.CURLcode
	if v == "" {
		rc = C.curlpoll_setopt_ptr(e.c, opt, nil)
	} else {
		if err := checkCString(v); err != nil {
			return err
		}
		cs := C.CString(v)
		rc = C.curlpoll_setopt_str(e.c, opt, cs)
		C.free(unsafe.Pointer(cs))
	}
	if err := optErr(opt, rc); err != nil {
		return err
	}
	e.noteString(opt, v, v == "")
	return nil
}

// setBlob sets a blob option; libcurl copies the bytes (CURL_BLOB_COPY).
func (e *Easy) setBlob(opt C.CURLoption, b []byte) error {
	if err := e.idle(); err != nil {
		return err
	}
	if len(b) == 0 {
		return optErr(opt, C.curlpoll_setopt_ptr(e.c, opt, nil))
	}
	p := C.CBytes(b)
	defer C.free(p)
	return optErr(opt, C.curlpoll_setopt_blob(e.c, opt, p, C.size_t(len(b))))
}

// setList sets a curl_slist option. libcurl keeps the list, so the Easy owns
// it until the next call for the same option, Reset or Close.
func (e *Easy) setList(opt C.CURLoption, items []string) error {
	if err := e.idle(); err != nil {
		return err
	}
	l, err := newSlist(items)
	if err != nil {
		return err
	}
	if err := optErr(opt, C.curlpoll_setopt_ptr(e.c, opt, unsafe.Pointer(l))); err != nil {
		C.curl_slist_free_all(l)
		return err
	}
	e.keepList(opt, l)
	e.noteList(opt, len(items))
	return nil
}

// newSlist builds a curl_slist of items (nil for none); the caller owns it.
func newSlist(items []string) (*C.struct_curl_slist, error) {
	var l *C.struct_curl_slist
	for _, s := range items {
		if err := checkCString(s); err != nil {
			C.curl_slist_free_all(l)
			return nil, err
		}
		cs := C.CString(s)
		n := C.curl_slist_append(l, cs)
		C.free(unsafe.Pointer(cs))
		if n == nil {
			C.curl_slist_free_all(l)
			return nil, ErrOutOfMemory
		}
		l = n
	}
	return l, nil
}

// keepList takes ownership of l, which libcurl now uses for opt, and frees
// the list it replaces.
func (e *Easy) keepList(opt C.CURLoption, l *C.struct_curl_slist) {
	if old := e.slists[opt]; old != nil {
		C.curl_slist_free_all(old)
	}
	if e.slists == nil {
		e.slists = make(map[C.CURLoption]*C.struct_curl_slist)
	}
	e.slists[opt] = l
	if l == nil {
		delete(e.slists, opt)
	}
}

// optErr is the error of libcurl's refusal rc to set opt, naming the
// option.
func optErr(opt C.CURLoption, rc C.CURLcode) error {
	if rc == C.CURLE_OK {
		return nil
	}
	return fmt.Errorf("curlpoll: setting %v: %w", Option(opt), Code(rc))
}

// checkCString refuses strings that C would silently truncate.
func checkCString(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("curlpoll: option value %q contains a NUL byte", s)
	}
	return nil
}

// errHSTSNotCarried refuses to reuse a handle whose HSTS cache lives only
// in the handle, where it would have to be renewed (see renew).
var errHSTSNotCarried = errors.New("curlpoll: this libcurl cannot safely reuse an easy handle after a transfer (curl#11101, before 8.1.0; after a trailer function ran, before 8.7.0), and its HSTS cache, kept in no file (CURLOPT_HSTS) and no Share, would not carry over to a fresh one: set an HSTS file (SetHSTSFile) or share the cache (ShareHSTS), or use a new Easy per transfer")

// renewNeeded reports whether the handle must be renewed before its next
// transfer (see renew), or errHSTSNotCarried if it cannot be.
//
// From 8.1.0 a handle is renewed for another reason, where libcurl counts
// retries per handle (libcurlRetriesPerHandle): after a transfer that sent
// more requests than one and the redirects it followed, as every retry
// does (on a new connection or on another one from the pool), or that
// failed, so that the count starts again; unless the duplicate would lose
// what the handle holds in memory alone (renewLoses), where the count is
// left as it is. libcurl's count of redirects (CURLINFO_REDIRECT_COUNT)
// takes in an authentication's next round and a request sent again after
// a 417 too, neither of which it counts as a retry.
func (e *Easy) renewNeeded() (bool, error) {
	if !e.ran {
		return false, nil
	}
	if e.trailersRan && libcurlTrailerStateSticks() {
		// Renewed even where the duplicate loses what the handle holds
		// (renewLoses): the state left would corrupt the heap.
		if e.notes.hstsOn && !e.notes.hstsList && (e.share == nil || e.share.what&ShareHSTS == 0) {
			return false, errHSTSNotCarried
		}
		return true, nil
	}
	if !libcurlHeaderDangles() {
		return libcurlRetriesPerHandle() && e.resent && !e.renewLoses(), nil
	}
	if e.notes.hstsOn && !e.notes.hstsList && (e.share == nil || e.share.what&ShareHSTS == 0) {
		return false, errHSTSNotCarried
	}
	return true, nil
}

// renewLoses reports whether a duplicate of the handle would lack
// something the handle holds in memory alone (see renew): an alt-svc cache
// with no file; a Digest nonce, or the method an authentication picked
// among several (the duplicate would ask the server again, and send one
// more request for it, each time); an HSTS cache with neither file nor
// Share; or TLS sessions where libcurl keeps them per handle and the
// handle's own Share does not hold them.
func (e *Easy) renewLoses() bool {
	n := &e.notes
	switch {
	case n.altsvcCtrl != 0 && n.altsvcFile == "":
	case (n.httpAuth|n.proxyAuth)&(C.CURLAUTH_DIGEST|C.CURLAUTH_DIGEST_IE) != 0,
		authPicks(n.httpAuth), authPicks(n.proxyAuth):
	case n.hstsOn && !n.hstsList && (e.share == nil || e.share.what&ShareHSTS == 0):
	case libcurlSessionsPerEasy() && e.share != nil && e.share.what&ShareSSLSessions == 0:
	default:
		return false
	}
	return true
}

// renewCostly reports whether renew's work grows with the handle's state
// (a cookie jar copied line by line; cookie, HSTS and alt-svc files read or
// written), so that it must run on the goroutine that starts the transfer
// and not hold up the driver and every other transfer of its Multi (5,000
// cookies held another Easy's Do for over a second).
func (e *Easy) renewCostly() bool {
	return e.cookies || e.notes.hstsList || e.notes.altsvcFile != ""
}

// renew replaces the handle, before a transfer, by a duplicate
// (curl_easy_duphandle) where libcurl before 8.1.0 would let the server
// write to freed memory (see libcurlHeaderDangles): after any transfer, as
// libcurl may have stored a header line for it even where no callback saw
// one (HTTP/2's :status, stored as the frame arrives); and, up to 8.16.x,
// where libcurl's retry count may have risen (see renewNeeded).
//
// The duplicate has every option of the handle (so the Transport's
// per-handle caches of what is set stay true) and a copy of its form (the
// Easy's own, set on no handle now, stays the Easy's to free). renew puts
// back what duphandle leaves out: the Share, the cookies in memory, the
// alt-svc flags, the HSTS and alt-svc caches by way of their files, a body
// of size 0, CURLOPT_AWS_SIGV4, the Digest IE flag and the RTSP CSeq
// counters. Not carried over: an alt-svc cache with no file, the Digest
// nonce, the TLS sessions of a handle whose own Share does not hold them
// (otherwise the Multi's share does), the last transfer's results (read
// them before the next Start), libcurl's count of retries (as after
// Reset). An HSTS cache with neither file nor Share is refused with an
// error.
//
// Whether it is due, and whether it can be done, start asks first
// (renewNeeded). It runs, the handle idle and in no multi handle, on the
// driver of the Multi that is about to add it (Multi.add); from start, on
// the goroutine that starts the transfer, where its cost grows with the
// handle's state (renewCostly); and from start on the driver of prev, the
// Multi the handle last ran on, if it used DoH (see onLastMulti). About
// 15,000 instructions, on the driver because there they cost less: the new
// handle is allocated on the thread that uses it and the old one freed on
// the thread that allocated most of it (bench/NOTES.md, eighth session:
// Multi.Do at N=16 +10%, the Transport on HTTP/2 +8%; glibc's allocator
// lock was 75% of the futex calls).
func (e *Easy) renew(prev *Multi) error {
	var r C.struct_curlpoll_renew // passed by value: stays on the stack
	r.flags = C.CURLPOLL_RENEW_COOKIES
	if e.share != nil {
		e.share.mu.Lock()
		r.share = e.share.s.sh // in use by e: not closed
		e.share.mu.Unlock()
		if e.share.what&ShareCookies != 0 {
			r.flags = 0
		}
	}
	if e.notes.hstsList {
		r.flags |= C.CURLPOLL_RENEW_HSTS_LIST
	}
	if e.notes.copyPost && e.notes.postSize == 0 {
		r.flags |= C.CURLPOLL_RENEW_EMPTY_POST
	}
	r.altsvc_ctrl = C.long(e.notes.altsvcCtrl)
	if e.notes.altsvcFile != "" {
		r.altsvc = C.CString(e.notes.altsvcFile)
		defer C.free(unsafe.Pointer(r.altsvc))
	}
	if e.notes.awsSigV4 != "" {
		r.aws_sigv4 = C.CString(e.notes.awsSigV4)
		defer C.free(unsafe.Pointer(r.aws_sigv4))
	}
	if e.notes.httpAuth&C.CURLAUTH_DIGEST_IE != 0 || e.notes.awsSigV4 != "" {
		// After CURLOPT_AWS_SIGV4, which sets its own method: the one set
		// last wins, as it did on old.
		r.httpauth = C.long(e.notes.httpAuth)
	}
	if e.notes.proxyAuth&C.CURLAUTH_DIGEST_IE != 0 {
		r.proxyauth = C.long(e.notes.proxyAuth)
	}
	var res C.struct_curlpoll_renewed
	if e.doh {
		res = renewOnDriverOf(prev, e.c, r)
	} else {
		res = C.curlpoll_easy_renew(hnd(e.c), r)
	}
	if res.rc != C.CURLE_OK {
		return fmt.Errorf("curlpoll: renewing the easy handle: %w", Code(res.rc))
	}
	e.c = res.h
	e.resent = false
	e.trailersRan = false
	if r.flags&C.CURLPOLL_RENEW_EMPTY_POST != 0 {
		e.notes.copyPost = false
	}
	return nil
}

// renewOnDriverOf is curlpoll_easy_renew on prev's driver (onDriverOf),
// apart from renew so that the closure's variables do not escape there.
func renewOnDriverOf(prev *Multi, c unsafe.Pointer, r C.struct_curlpoll_renew) (res C.struct_curlpoll_renewed) {
	onDriverOf(prev, func() { res = C.curlpoll_easy_renew(hnd(c), r) })
	return res
}

// authPicks reports whether a of CURLOPT_HTTPAUTH or CURLOPT_PROXYAUTH has
// more than one method, among which libcurl picks by asking the server
// first; with one, it uses that one at once.
func authPicks(a int64) bool {
	a &^= C.CURLAUTH_ONLY
	return a&(a-1) != 0
}
