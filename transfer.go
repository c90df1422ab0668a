package curlpoll

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Buffering between libcurl and the goroutine that consumes a transfer. The
// write callback accepts a chunk while fewer than recvHighWater bytes wait,
// and pauses the transfer otherwise (CURL_WRITEFUNC_PAUSE); the reader asks
// for it to resume once no more than recvLowWater bytes wait. A chunk is at
// most CURLOPT_BUFFERSIZE (16 KiB by default) unless libcurl decompresses, so
// a transfer holds about recvHighWater+16 KiB whatever the body's size.
const (
	recvHighWater = 256 << 10
	recvLowWater  = 64 << 10
	sendHighWater = 128 << 10
	sendChunk     = 32 << 10
)

// A Transfer is one transfer started by Multi.Start. Its body is read with
// Read or WriteTo, its header block with Header. Close it when done: Close
// stops an unfinished transfer and releases the Easy for reuse.
//
// Read, WriteTo and Header are for one consumer goroutine; Done, Err and
// Close may be called from any goroutine.
type Transfer struct {
	m       *Multi
	e       *Easy
	id      uint64
	ctx     context.Context
	stopCtx func() bool // stops the context.AfterFunc that cancels the transfer

	// mu guards the fields up to the channels: the driver's callbacks write
	// them and the consumer and upload goroutines read them.
	mu            sync.Mutex
	recv          byteQueue // body bytes received, not yet read
	recvPaused    bool      // the write callback paused the transfer
	unpauseQueued bool      // a resume of receiving is on its way to the driver
	status        int       // status code of the header block being received
	hdr           []string  // the header block being received, final once hdrDone
	hdrDone       bool
	trailer       []string
	send          byteQueue // request body bytes read, not yet sent
	sendEOF       bool
	sendErr       error
	sendPaused    bool // the read callback paused the transfer
	sendQueued    bool // a resume of sending is on its way to the driver
	sendGen       int  // bumped when libcurl rewinds the body; stale pumps stop
	done          bool
	err           error

	progress Progress // guarded by mu: the latest counts for the progress function

	wake     chan struct{} // cap 1: something for the consumer (data, end)
	progNew  chan struct{} // cap 1: new counts for deliverProgress; nil without a progress function
	progDone chan struct{} // closed when deliverProgress has returned
	space    chan struct{} // cap 1: room for the upload pump
	hdrReady chan struct{} // closed when the header block is complete
	doneCh   chan struct{} // closed when the transfer is over

	// Driver-only state.
	active       bool         // added to the multi handle, not yet removed
	cause        error        // the Go error that made a callback abort the transfer
	lastProgress time.Time    // when progress was last passed on (SetProgressInterval)
	info         TransferInfo // read from libcurl as the transfer ends; final once doneCh is closed

	spare    []byte // the consumer's second buffer for WriteTo
	released bool   // Close has released the Easy (consumer side)
	closeMu  sync.Mutex
}

func newTransfer(m *Multi, e *Easy, ctx context.Context) *Transfer {
	return &Transfer{
		m: m, e: e, ctx: ctx, id: transferIDs.Add(1),
		wake:     make(chan struct{}, 1),
		space:    make(chan struct{}, 1),
		hdrReady: make(chan struct{}),
		doneCh:   make(chan struct{}),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Easy returns the handle the transfer runs on.
func (t *Transfer) Easy() *Easy { return t.e }

// Done returns a channel that is closed when the transfer is over, whether
// or not its body has been read.
func (t *Transfer) Done() <-chan struct{} { return t.doneCh }

// Err returns the transfer's error once it is over (nil for success), and
// nil before.
func (t *Transfer) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Header waits for the response's header block and returns its lines
// without line endings: the status line first, then each field line as
// received. Interim 1xx blocks are skipped, and so are the blocks of
// redirects that libcurl follows (SetFollowLocation). For a transfer that
// ends before a header block arrives it returns the transfer's error, or no
// lines for protocols without headers.
func (t *Transfer) Header() ([]string, error) {
	select {
	case <-t.hdrReady:
	case <-t.doneCh:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hdrDone {
		return nil, t.err
	}
	return t.hdr, nil
}

// Trailer returns the trailer lines that followed the body; complete once
// Read has returned io.EOF.
func (t *Transfer) Trailer() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.trailer
}

// Read reads the response body. At its end it returns io.EOF if the
// transfer succeeded, or the transfer's error.
func (t *Transfer) Read(p []byte) (int, error) {
	for {
		t.mu.Lock()
		if t.recv.Len() > 0 {
			n := t.recv.Read(p)
			resume := t.resumeLocked()
			t.mu.Unlock()
			if resume {
				t.m.post(work{op: opResumeRecv, t: t})
			}
			return n, nil
		}
		if t.done {
			err := t.err
			t.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		t.mu.Unlock()
		<-t.wake
	}
}

// WriteTo writes the response body to w until it ends, and returns the
// transfer's error, or w's. It saves a copy over Read, and io.Copy uses it.
func (t *Transfer) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		t.mu.Lock()
		if t.recv.Len() > 0 {
			data := t.recv.Swap(t.spare)
			resume := t.resumeLocked()
			t.mu.Unlock()
			if resume {
				t.m.post(work{op: opResumeRecv, t: t})
			}
			n, err := w.Write(data)
			total += int64(n)
			t.spare = data
			if err == nil && n < len(data) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
			continue
		}
		if t.done {
			err := t.err
			t.mu.Unlock()
			return total, err
		}
		t.mu.Unlock()
		<-t.wake
	}
}

// resumeLocked reports whether the consumer should ask the driver to resume
// a paused download, and notes that it will.
func (t *Transfer) resumeLocked() bool {
	if t.recvPaused && !t.unpauseQueued && t.recv.Len() <= recvLowWater {
		t.unpauseQueued = true
		return true
	}
	return false
}

// Close stops the transfer if it is still running (its error becomes
// ErrAborted; an HTTP/1 connection is closed, an HTTP/2 stream reset), waits
// until libcurl has let go of it, and releases the Easy for reuse. It
// returns nil; calling it again does nothing.
func (t *Transfer) Close() error {
	t.abort(ErrAborted)
	<-t.doneCh
	if t.progDone != nil {
		<-t.progDone
	}
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if !t.released {
		t.released = true
		t.e.release()
	}
	return nil
}

// deliverProgress calls the Easy's progress function with the latest counts
// whenever libcurl reports new ones, on a goroutine of its own: a slow
// function gets fewer calls, and one that blocks holds up no other
// transfer. Its error, or a panic, aborts the transfer. It makes a last
// call with the final counts when the transfer ends, and Close waits for it.
func (t *Transfer) deliverProgress(f func(Progress) error) {
	defer close(t.progDone)
	for {
		select {
		case <-t.progNew:
		case <-t.doneCh:
			select {
			case <-t.progNew:
				t.callProgress(f)
			default:
			}
			return
		}
		if err := t.callProgress(f); err != nil {
			t.abort(&Error{Code: ErrAbortedByCallback, Err: err})
			return
		}
	}
}

// callProgress runs f with the latest counts, turning a panic into an error.
func (t *Transfer) callProgress(f func(Progress) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	t.mu.Lock()
	p := t.progress
	t.mu.Unlock()
	return f(p)
}

// abort asks the driver to stop the transfer with err, unless it is over.
func (t *Transfer) abort(err error) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if !done {
		t.m.post(work{op: opCancel, t: t, err: err})
	}
}

// finish records the end of the transfer and wakes everyone waiting on it.
// Driver only, once.
func (t *Transfer) finish(err error) {
	t.active = false
	if t.stopCtx != nil {
		t.stopCtx()
	}
	t.mu.Lock()
	t.done = true
	t.err = err
	t.mu.Unlock()
	close(t.doneCh)
	signal(t.wake)
	signal(t.space)
}

// resultError turns a finished transfer's CURLcode into its error.
func (t *Transfer) resultError(rc C.CURLcode) error {
	if rc == C.CURLE_OK && t.cause == nil {
		return nil
	}
	err := &Error{Code: Code(rc), Detail: C.GoString(t.e.errbuf), Err: t.cause}
	// The errno is read now, on the driver: once the transfer is over the
	// handle may be reset or reused before anyone looks.
	var n C.long
	if C.curlpoll_getinfo_long(t.e.c, C.CURLINFO_OS_ERRNO, &n) == C.CURLE_OK && n != 0 {
		err.Errno = syscall.Errno(n)
	}
	return err
}

// onBody is the write callback's work: queue p, or pause.
func (t *Transfer) onBody(p []byte) C.size_t {
	t.mu.Lock()
	if t.recv.Len() >= recvHighWater {
		t.recvPaused = true
		t.mu.Unlock()
		t.m.stats.recvPauses++
		return C.CURL_WRITEFUNC_PAUSE
	}
	t.recv.Write(p)
	t.headerDoneLocked()
	t.mu.Unlock()
	t.m.progress++
	signal(t.wake)
	return C.size_t(len(p))
}

func (t *Transfer) headerDoneLocked() {
	if !t.hdrDone {
		t.hdrDone = true
		close(t.hdrReady)
	}
}

// onHeader is the header callback's work: collect the header block, find
// where the final one ends, and keep trailers.
func (t *Transfer) onHeader(raw []byte) {
	t.m.progress++
	line := strings.TrimRight(string(raw), "\r\n")
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.hdrDone:
		if line != "" {
			t.trailer = append(t.trailer, line)
		}
	case strings.HasPrefix(line, "HTTP/"):
		t.hdr = append(t.hdr[:0], line)
		t.status = parseStatus(line)
	case line != "":
		t.hdr = append(t.hdr, line)
	case t.status >= 200 && !(t.e.follow && isRedirect(t.status) && hasField(t.hdr, "Location")):
		// The blank line that ends a final response's header block; 1xx
		// blocks and followed redirects are followed by another block.
		t.headerDoneLocked()
		signal(t.wake)
	case t.status == 101:
		t.headerDoneLocked()
	}
}

// parseStatus returns the code of a status line ("HTTP/1.1 200 OK",
// "HTTP/2 200"), 0 if there is none.
func parseStatus(line string) int {
	_, rest, ok := strings.Cut(line, " ")
	if !ok {
		return 0
	}
	code, _, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 {
		return 0
	}
	return n
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func hasField(lines []string, name string) bool {
	for _, l := range lines {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return true
		}
	}
	return false
}

// onRead is the read callback's work: hand libcurl queued request body
// bytes, or pause until the pump has some.
func (t *Transfer) onRead(p []byte) C.size_t {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.send.Len() > 0:
		t.m.progress++
		n := t.send.Read(p)
		signal(t.space)
		return C.size_t(n)
	case t.sendEOF || t.e.reader == nil:
		return 0
	case t.sendErr != nil:
		t.cause = t.sendErr
		return C.CURL_READFUNC_ABORT
	}
	t.sendPaused = true
	return C.CURL_READFUNC_PAUSE
}

// onSeek is the seek callback's work: libcurl must send the body again
// from offset. The Easy's rewind function supplies a new reader, and a new
// pump feeds it; the old one stops at its next step.
func (t *Transfer) onSeek(offset int64) C.int {
	if t.e.rewind == nil {
		return C.CURL_SEEKFUNC_CANTSEEK
	}
	r, err := t.e.rewind()
	if err != nil {
		t.cause = err
		return C.CURL_SEEKFUNC_FAIL
	}
	t.mu.Lock()
	t.sendGen++
	gen := t.sendGen
	t.send.Reset()
	t.sendEOF, t.sendErr = false, nil
	t.mu.Unlock()
	go t.pump(r, gen, offset)
	return C.CURL_SEEKFUNC_OK
}

// pump reads the request body on its own goroutine, so that a reader that
// blocks holds up only its own transfer, and wakes a transfer that libcurl
// paused for want of data. It skips the first skip bytes. It stops at the
// body's end, at a read error, when the transfer ends, or when a rewind
// replaced it (gen).
func (t *Transfer) pump(r io.Reader, gen int, skip int64) {
	buf := make([]byte, sendChunk)
	for {
		t.mu.Lock()
		for t.send.Len() >= sendHighWater && !t.done && t.sendGen == gen {
			t.mu.Unlock()
			select {
			case <-t.space:
			case <-t.doneCh:
			}
			t.mu.Lock()
		}
		stop := t.done || t.sendGen != gen
		t.mu.Unlock()
		if stop {
			return
		}

		n, err := r.Read(buf)
		data := buf[:n]
		if skip > 0 {
			k := min(skip, int64(n))
			data, skip = data[k:], skip-k
		}

		t.mu.Lock()
		if t.done || t.sendGen != gen {
			t.mu.Unlock()
			return
		}
		t.send.Write(data)
		switch {
		case errors.Is(err, io.EOF):
			t.sendEOF = true
		case err != nil:
			t.sendErr = err
		}
		resume := t.sendPaused && !t.sendQueued && (t.send.Len() > 0 || err != nil)
		if resume {
			t.sendQueued = true
		}
		t.mu.Unlock()
		if resume {
			t.m.post(work{op: opResumeSend, t: t})
		}
		if err != nil {
			return
		}
	}
}
