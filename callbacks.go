package curlpoll

// The Go side of libcurl's callbacks. The C trampolines in shim.c call these
// with the handle (handles.go) they were registered with. All of them run
// on a Multi's driver goroutine, inside a libcurl call, so they only record
// state and return a code: they never call back into the multi interface.
// Each one recovers from panics, which must not unwind through libcurl's C
// frames.

// #include "shim.h"
import "C"

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime/debug"
	"time"
	"unsafe"
)

// transferOf returns the transfer running on the easy handle h, nil if
// none, and counts the callback on its Multi.
func transferOf(h C.uintptr_t) *xfer {
	t := transferAt(h)
	if t != nil {
		t.m.stats.callbacks++
	}
	return t
}

// transferAt returns the transfer running on the easy handle h, nil if none.
func transferAt(h C.uintptr_t) *xfer {
	e := easyHandles.get(uintptr(h))
	if e == nil {
		return nil
	}
	return e.cur
}

// failOnPanic turns a panic in callback code into the transfer's error. It
// must be deferred directly.
func (t *xfer) failOnPanic() {
	if r := recover(); r != nil {
		t.cause = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// goWrite receives body bytes, p[0:n], after the header lines the header
// callback collected and did not pass on yet (block, blen bytes as for
// goHeaders). It returns n, CURL_WRITEFUNC_PAUSE, or anything else to fail
// the transfer.
//
//export goWrite
func goWrite(h C.uintptr_t, block *C.char, blen C.size_t, p *C.char, n C.size_t) (ret C.size_t) {
	t := transferOf(h)
	if t == nil {
		return 0
	}
	defer t.failOnPanic() // ret stays 0 on a panic: libcurl aborts the transfer
	raceAcquireIO()
	if blen > 0 && !t.headerBlock(unsafe.Slice((*byte)(unsafe.Pointer(block)), int(blen)), nil) {
		return 0
	}
	return t.onBody(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// goHeaders receives header lines that the header callback collected in
// C (shim.c): block holds n bytes of lines, each a native-endian uint32
// length and its bytes, and line, unless NULL, is one more of ln bytes,
// too long to collect. It returns 0 to fail the transfer, which stops at
// the line that failed it.
//
//export goHeaders
func goHeaders(h C.uintptr_t, block *C.char, n C.size_t, line *C.char, ln C.size_t) (ok C.int) {
	t := transferOf(h)
	if t == nil {
		return 0
	}
	defer t.failOnPanic() // ok stays 0 on a panic: libcurl aborts the transfer
	raceAcquireIO()
	var extra []byte
	if line != nil {
		extra = unsafe.Slice((*byte)(unsafe.Pointer(line)), int(ln))
	}
	if !t.headerBlock(unsafe.Slice((*byte)(unsafe.Pointer(block)), int(n)), extra) {
		return 0
	}
	return 1
}

// headerBlock passes the lines of a block collected in C (each a
// native-endian uint32 length and its bytes), then extra unless it is nil,
// to headerLine; false fails the transfer. An inline header function is
// marked inline (for TLSState) once for the whole block, not per line.
func (t *xfer) headerBlock(b, extra []byte) bool {
	hook := t.e.headerHook
	if hook == nil && t.e.headerFunc == nil {
		// Nothing of the user's runs per line: one lock for the block
		// (a lock per line cost ~40 instructions a line).
		t.mu.Lock()
		defer t.mu.Unlock()
		for len(b) >= 4 {
			k := 4 + int(binary.NativeEndian.Uint32(b))
			t.onHeaderLocked(b[4:k])
			b = b[k:]
		}
		if extra != nil {
			t.onHeaderLocked(extra)
		}
		return true
	}
	if hook != nil {
		t.inline.Store(true)
		defer t.inline.Store(false)
	}
	for len(b) >= 4 {
		k := 4 + int(binary.NativeEndian.Uint32(b))
		if !t.headerLine(b[4:k], hook) {
			return false
		}
		b = b[k:]
	}
	return extra == nil || t.headerLine(extra, hook)
}

// headerLine is the header callback's work for one line, valid only
// during the call, with the Easy's inline header function (nil if none);
// false fails the transfer.
func (t *xfer) headerLine(line []byte, hook func(*Transfer, []byte) error) bool {
	t.onHeader(line)
	if hook != nil {
		if err := hook(t.pub, line); err != nil {
			t.cause = err
			return false
		}
	}
	if t.e.headerFunc != nil {
		// The user's function runs on a goroutine of the transfer (runHooks).
		t.mu.Lock()
		t.hookLines = append(t.hookLines, bytes.Clone(line))
		t.queueHooksLocked()
		t.mu.Unlock()
	}
	return true
}

//export goRead
func goRead(h C.uintptr_t, p *C.char, n C.size_t) (ret C.size_t) {
	t := transferOf(h)
	if t == nil {
		return C.CURL_READFUNC_ABORT
	}
	ret = C.CURL_READFUNC_ABORT
	defer t.failOnPanic()
	ret = t.onRead(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	raceReleaseIO() // the upload pump's writes happen before libcurl sends them
	return ret
}

//export goSeek
func goSeek(h C.uintptr_t, offset C.curl_off_t, origin C.int) (ret C.int) {
	t := transferOf(h)
	if t == nil || origin != 0 { // SEEK_SET is all libcurl asks for
		return C.CURL_SEEKFUNC_CANTSEEK
	}
	ret = C.CURL_SEEKFUNC_FAIL
	defer t.failOnPanic()
	return t.onSeek(int64(offset))
}

//export goProgress
func goProgress(h C.uintptr_t, dltotal, dlnow, ultotal, ulnow C.curl_off_t) C.int {
	t := transferOf(h)
	if t == nil || t.e.progressFunc == nil {
		return 0
	}
	p := Progress{
		DownloadTotal: int64(dltotal), Downloaded: int64(dlnow),
		UploadTotal: int64(ultotal), Uploaded: int64(ulnow),
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.progress = p
	if gap := t.e.progressGap; gap > 0 {
		now := time.Now()
		if since := now.Sub(t.lastProgress); !t.lastProgress.IsZero() && since < gap {
			// Throttled: the latest counts go out when the interval
			// ends, whether or not libcurl calls again (8.x makes no
			// calls while a transfer stalls).
			if !t.progressHeld {
				t.progressHeld = true
				t.lastProgress = now.Add(gap - since)
				gen := t.gen
				time.AfterFunc(gap-since, func() { t.releaseProgress(gen) })
			}
			return 0
		}
		t.lastProgress = now
	}
	// The progress function runs on the transfer's own goroutine
	// (runHooks), which aborts the transfer if it fails.
	t.progressHeld = false
	t.progressNew = true
	t.queueHooksLocked()
	return 0
}

//export goDebug
func goDebug(h C.uintptr_t, kind C.int, p *C.char, n C.size_t) {
	t := transferOf(h)
	if t == nil || t.e.debugFunc == nil {
		return
	}
	// libcurl ignores the debug callback's result, so a panic cannot stop
	// the transfer here: it is recorded, and the transfer ends with it as
	// its error.
	defer t.failOnPanic()
	var k DebugKind
	switch kind {
	case C.CURLINFO_HEADER_IN:
		k = DebugHeaderIn
	case C.CURLINFO_HEADER_OUT:
		k = DebugHeaderOut
	}
	t.inlineCall(func() { t.e.debugFunc(t.pub, k, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))) })
}

//export goPrereq
func goPrereq(h C.uintptr_t, remoteIP, localIP *C.char, remotePort, localPort C.int) (ret C.int) {
	t := transferOf(h)
	if t == nil || t.e.prereqFunc == nil {
		return C.CURL_PREREQFUNC_OK
	}
	ret = C.CURL_PREREQFUNC_ABORT
	defer t.failOnPanic()
	c := ConnInfo{Remote: addrPort(remoteIP, remotePort), Local: addrPort(localIP, localPort)}
	var err error
	t.inPrereq.Store(true)
	defer t.inPrereq.Store(false)
	t.inlineCall(func() { err = t.e.prereqFunc(t.pub, c) })
	if err != nil {
		t.cause = err
		return C.CURL_PREREQFUNC_ABORT
	}
	return C.CURL_PREREQFUNC_OK
}

// goClientCert runs the Easy's client certificate function
// (SetClientCertFunc) for ssl, the OpenSSL connection whose server asked
// for a certificate: 1 when done, 0 to fail the handshake.
//
//export goClientCert
func goClientCert(h C.uintptr_t, ssl unsafe.Pointer) (ret C.int) {
	t := transferOf(h)
	if t == nil || t.e.clientCertFunc == nil {
		return 1 // none to send
	}
	defer t.failOnPanic() // ret stays 0: the handshake fails
	if opensslClientCert(t, t.e.clientCertFunc, ssl) {
		return 1
	}
	return 0
}

// goTrailers runs the Easy's trailer function (SetTrailerFunc) and puts
// the lines it gives in *list, which libcurl frees.
//
//export goTrailers
func goTrailers(h C.uintptr_t, list **C.struct_curl_slist) (ret C.int) {
	t := transferOf(h)
	if t == nil || t.e.trailerFunc == nil {
		return C.CURL_TRAILERFUNC_OK
	}
	ret = C.CURL_TRAILERFUNC_ABORT
	defer t.failOnPanic()
	var lines []string
	var err error
	t.inlineCall(func() { lines, err = t.e.trailerFunc(t.pub) })
	for _, l := range lines {
		if err != nil {
			break
		}
		err = trailerLine(l)
	}
	if err != nil {
		t.cause = err
		return C.CURL_TRAILERFUNC_ABORT
	}
	var l *C.struct_curl_slist
	for _, line := range lines {
		cs := C.CString(line)
		nl := C.curl_slist_append(l, cs)
		C.free(unsafe.Pointer(cs))
		if nl == nil {
			C.curl_slist_free_all(l)
			t.cause = Code(C.CURLE_OUT_OF_MEMORY)
			return C.CURL_TRAILERFUNC_ABORT
		}
		l = nl
	}
	*list = l
	return C.CURL_TRAILERFUNC_OK
}

func addrPort(ip *C.char, port C.int) netip.AddrPort {
	if ip == nil {
		return netip.AddrPort{}
	}
	a, err := netip.ParseAddr(C.GoString(ip))
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(port))
}

// multiOf returns the Multi registered as the socket and timer callbacks' data.
func multiOf(h C.uintptr_t) *Multi {
	m := multiHandles.get(uintptr(h))
	if m != nil {
		m.stats.callbacks++
	}
	return m
}

// goSockets takes in the socket callbacks recorded in C when the record
// is full (socket_cb in shim.c).
//
//export goSockets
func goSockets(h C.uintptr_t) {
	m := multiOf(h)
	if m == nil {
		return
	}
	defer m.recoverCallback()
	m.applySockets()
}

// goOpenSocket and goCloseSocket take in the socket callbacks recorded
// before them first, so that each socket's events are handled in the order
// libcurl made them: a number closed and opened again within one libcurl
// call is two sockets.
//
//export goOpenSocket
func goOpenSocket(h C.uintptr_t, fd C.int) {
	m := multiOf(h)
	if m == nil {
		return
	}
	defer m.recoverCallback()
	m.applySockets()
	m.onOpenSocket(int(fd))
}

//export goCloseSocket
func goCloseSocket(h C.uintptr_t, fd C.int) {
	m := multiOf(h)
	if m == nil {
		return
	}
	defer m.recoverCallback()
	m.applySockets()
	m.onCloseSocket(int(fd))
}
