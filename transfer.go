package curlpoll

// #include "shim.h"
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//
// A Transfer is a small handle on state that its Easy keeps from one
// transfer to the next (buffers, channels). Once Close has returned, the
// handle is stale: Read, WriteTo and Header return an error wrapping
// ErrClosed, while Err, Done, Info and Trailer keep reporting this
// transfer's end. A stale handle never reads, stops or resumes a later
// transfer of the same Easy.
type Transfer struct {
	s   *xfer  // the Easy's transfer state
	gen uint64 // s.gen while this transfer is s's
	e   *Easy
	id  uint64

	// do marks the handle that inline callbacks get during Multi.Do: it
	// has no Done or HeaderReady channel, and no Info.
	do bool

	err     error    // guarded by s.mu: the transfer's error, set as it ends (and by Close)
	trailer []string // guarded by s.mu: the trailer lines, kept by Close

	cinfo C.struct_curlpoll_info // read from libcurl as the transfer ends; final once it is over

	closeMu  sync.Mutex
	released bool // guarded by closeMu: Close has released the Easy
}

// errStale is what a Transfer's Read, WriteTo and Header return after its
// Close.
var errStale = fmt.Errorf("curlpoll: transfer: %w", ErrClosed)

// xfer is the state of the transfer running on an Easy, kept by the Easy
// and reused by its next transfer: a Do allocates none of it. gen numbers
// the transfers; each Transfer handle carries the gen it was made for, and
// every consumer operation checks it under mu, so that a stale handle
// cannot act on a later transfer. Messages to the driver carry the gen too.
type xfer struct {
	m       *Multi
	e       *Easy
	id      uint64
	ctx     context.Context
	stopCtx func() bool // stops the context.AfterFunc that cancels the transfer

	// mu guards the fields up to the channels: the driver's callbacks write
	// them and the consumer and upload goroutines read them.
	mu            sync.Mutex
	gen           uint64    // the current transfer's number on this Easy (begin)
	pub           *Transfer // the current transfer's handle: Start's, or &doPub
	closed        bool      // the current transfer's Close has released the Easy
	recv          byteQueue // body bytes received, not yet read
	recvPaused    bool      // the write callback paused the transfer
	unpauseQueued bool      // a resume of receiving is on its way to the driver
	status        int       // status code of the header block being received
	hdrBlock      []byte    // the header block being received, each line ending in '\n'; final once hdrDone
	hdrText       string    // hdrBlock as a string, made by the first HeaderBlock call after hdrDone
	hdrDone       bool
	trailer       []string
	send          byteQueue // request body bytes read, not yet sent
	sendEOF       bool
	sendErr       error
	sendPaused    bool   // the read callback paused the transfer
	sendQueued    bool   // a resume of sending is on its way to the driver
	sendGen       uint64 // bumped by every transfer and when libcurl rewinds the body; stale pumps stop
	done          bool
	err           error
	hdrReady      chan struct{} // made when first waited on (hdrChanLocked)
	doneCh        chan struct{} // made when first waited on (doneChanLocked)

	progress     Progress      // guarded by mu: the latest counts for the progress function
	progressNew  bool          // progress holds counts not yet passed on
	progressHeld bool          // progress holds counts that SetProgressInterval held back; releaseProgress passes them on
	hookLines    [][]byte      // header lines for the header function, not yet passed on
	hookDebug    []debugRecord // debug records for the user's debug function
	debugDropped int           // records dropped past maxDebugBacklog
	hookErr      error         // the error of the header or progress function
	hookRunning  bool          // a runHooks goroutine is at work

	wake  chan struct{}  // cap 1: something for the consumer (data, end)
	hooks sync.WaitGroup // runHooks goroutines
	space chan struct{}  // cap 1: room for the upload pump

	// Driver-only state, reset by Multi.add.
	active       bool   // added to the multi handle, not yet removed
	runGen       uint64 // the gen of the transfer the driver runs (add)
	wakeQueued   bool   // in m.toWake, at wakeAt
	wakeAt       int
	inline       atomic.Bool // inside an inline callback (inline.go); atomic, as a misplaced TLSState may ask from anywhere
	inPrereq     atomic.Bool // inside the pre-request function (AddRequestHeader); atomic, likewise
	cause        error       // the Go error that made a callback abort the transfer
	relay        *dialRelay  // the connection the Easy's dial function made for it last (dial.go)
	lastProgress time.Time   // when progress was last passed on (SetProgressInterval)
	errnoBase    C.long      // CURLINFO_OS_ERRNO as the transfer started (errno.go)
	movedAt      time.Time   // when a callback last moved it (the stall rescue)
	linesSeen    C.uint64_t  // its header lines counted in C, when the stall rescue last looked

	spare []byte // the consumer's second buffer for WriteTo

	doPub Transfer // Do's handle, reused: Do never hands it out
}

// newXfer makes an Easy's transfer state, once.
func newXfer(e *Easy) *xfer {
	return &xfer{
		e:     e,
		wake:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
	}
}

// begin readies s for a new transfer on m and returns its handle: a new
// one for Start (public), with the channels Done and the Transport read,
// or the reused doPub for Do. The caller holds the Easy (acquire), so
// the previous transfer's Close has returned.
func (s *xfer) begin(m *Multi, ctx context.Context, public bool) *Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.sendGen++
	s.m, s.ctx, s.stopCtx = m, ctx, nil
	s.id = transferIDs.Add(1)
	s.closed = false
	s.recv.Reset()
	s.recvPaused, s.unpauseQueued = false, false
	s.status = 0
	s.hdrBlock = s.hdrBlock[:0]
	s.hdrText, s.hdrDone, s.trailer = "", false, nil // handed out: not reused
	s.send.Reset()
	s.sendEOF, s.sendErr, s.sendPaused, s.sendQueued = false, nil, false, false
	s.done, s.err = false, nil
	s.progress, s.progressNew, s.progressHeld = Progress{}, false, false
	s.hookLines, s.hookDebug, s.debugDropped = nil, nil, 0
	s.hookErr, s.hookRunning = nil, false
	// A wake-up or room left over from the previous transfer would only
	// make a waiter look once more; drop them anyway.
	select {
	case <-s.wake:
	default:
	}
	select {
	case <-s.space:
	default:
	}
	var t *Transfer
	if public {
		t = &Transfer{}
	} else {
		s.doPub = Transfer{do: true}
		t = &s.doPub
	}
	t.s, t.gen, t.e, t.id = s, s.gen, s.e, s.id
	// The channels are made only if someone waits on them: most
	// consumers wait with Header and Read, on s.wake.
	s.pub, s.hdrReady, s.doneCh = t, nil, nil
	return t
}

// current reports whether transfer gen runs on the driver that calls it.
// The check holds mu: a message may outlive its transfer, whose Easy may
// then begin the next one (begin takes mu), on another Multi whose driver
// writes active and runGen.
func (s *xfer) current(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen == gen && s.active && s.runGen == gen
}

// staleLocked reports whether the handle of transfer gen is stale: its
// Close has returned, or a later transfer runs. s.mu is held.
func (s *xfer) staleLocked(gen uint64) bool { return s.gen != gen || s.closed }

// stale unlocks mu for a consumer that found its handle stale. A stale
// consumer may have taken a wake-up meant for the next transfer's: it
// passes one on (a spurious one only makes a waiter look again).
func (s *xfer) stale() {
	s.mu.Unlock()
	s.notify()
}

// doneChanLocked returns the channel closed at the transfer's end, making
// it if Start did not (Do's transfers make it only if something waits).
func (s *xfer) doneChanLocked() chan struct{} {
	if s.doneCh == nil {
		s.doneCh = make(chan struct{})
		if s.done {
			close(s.doneCh)
		}
	}
	return s.doneCh
}

// hdrChanLocked returns the channel closed when the header block is
// complete or the transfer is over, making it when first asked for.
func (s *xfer) hdrChanLocked() chan struct{} {
	if s.hdrReady == nil {
		s.hdrReady = make(chan struct{})
		if s.hdrDone || s.done {
			close(s.hdrReady)
		}
	}
	return s.hdrReady
}

// closedChan is what Done and HeaderReady return for a transfer whose
// Easy has moved on to another: it is over.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// overLocked reports whether t's transfer has ended, with t.s.mu held.
func (t *Transfer) overLocked() bool { return t.s.gen != t.gen || t.s.done }

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
func (t *Transfer) Done() <-chan struct{} { return t.channel((*xfer).doneChanLocked) }

// channel returns what get makes or finds for the handle's transfer while
// it is the Easy's, closedChan once the Easy has moved on (the transfer is
// over), nil for Do's handle.
func (t *Transfer) channel(get func(*xfer) chan struct{}) <-chan struct{} {
	if t.do {
		return nil
	}
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != t.gen {
		return closedChan
	}
	return get(s)
}

// Err returns the transfer's error once it is over (nil for success), and
// nil before.
func (t *Transfer) Err() error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.err
}

// Header waits for the response's header block and returns its lines
// without line endings: the status line first, then each field line as
// received. Interim 1xx blocks are skipped, and so are the blocks of
// redirects that libcurl follows (SetFollowLocation). For a transfer that
// ends before a header block arrives it returns the transfer's error, or no
// lines for protocols without headers.
func (t *Transfer) Header() ([]string, error) {
	text, err := t.HeaderBlock()
	if text == "" {
		return nil, err
	}
	return strings.Split(text[:len(text)-1], "\n"), nil
}

// HeaderBlock is Header's lines in one string, each ended by "\n" (no
// "\r"), for a consumer that parses the block in one pass rather than line
// by line: it saves splitting it. "" with the transfer's error, or with
// none for protocols without headers, if it ends before a header block.
func (t *Transfer) HeaderBlock() (string, error) {
	s := t.s
	for {
		s.mu.Lock()
		if s.staleLocked(t.gen) {
			s.stale()
			return "", errStale
		}
		if s.hdrDone || s.done {
			if s.hdrDone && s.hdrText == "" {
				// Made once, when asked for: Multi.Do never asks.
				s.hdrText = string(s.hdrBlock)
			}
			text, err, ok := s.hdrText, s.err, s.hdrDone
			s.mu.Unlock()
			if !ok {
				return "", err
			}
			return text, nil
		}
		s.mu.Unlock()
		s.await()
	}
}

// Trailer returns the trailer lines that followed the body; complete once
// Read has returned io.EOF.
func (t *Transfer) Trailer() []string {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staleLocked(t.gen) {
		return t.trailer // kept by Close
	}
	return s.trailer
}

// Read reads the response body. At its end it returns io.EOF if the
// transfer succeeded, or the transfer's error.
func (t *Transfer) Read(p []byte) (int, error) {
	s := t.s
	for {
		s.mu.Lock()
		if s.staleLocked(t.gen) {
			s.stale()
			return 0, errStale
		}
		if s.recv.Len() > 0 {
			n := s.recv.Read(p)
			resume, m := s.resumeLocked(), s.m
			s.mu.Unlock()
			if resume {
				m.post(work{op: opResumeRecv, t: s, tgen: t.gen})
			}
			return n, nil
		}
		if s.done {
			err := s.err
			s.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		s.mu.Unlock()
		s.await()
	}
}

// WriteTo writes the response body to w until it ends, and returns the
// transfer's error, or w's. It saves a copy over Read, and io.Copy uses it.
func (t *Transfer) WriteTo(w io.Writer) (int64, error) {
	s := t.s
	var total int64
	for {
		s.mu.Lock()
		if s.staleLocked(t.gen) {
			s.stale()
			return total, errStale
		}
		if s.recv.Len() > 0 {
			data := s.recv.Swap(s.spare)
			resume, m := s.resumeLocked(), s.m
			s.mu.Unlock()
			if resume {
				m.post(work{op: opResumeRecv, t: s, tgen: t.gen})
			}
			n, err := w.Write(data)
			total += int64(n)
			s.spare = data
			if err == nil && n < len(data) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
			continue
		}
		if s.done {
			err := s.err
			s.mu.Unlock()
			return total, err
		}
		s.mu.Unlock()
		s.await()
	}
}

// await blocks until the driver has news for the consumer: data, the
// header block, the end. The consumer never calls libcurl; the driver wakes
// it once per turn that brought news (wakeLater).
func (s *xfer) await() { <-s.wake }

// notify wakes the consumer.
func (s *xfer) notify() { signal(s.wake) }

// resumeLocked reports whether the consumer should ask the driver to resume
// a paused download, and notes that it will.
func (s *xfer) resumeLocked() bool {
	if s.recvPaused && !s.unpauseQueued && s.recv.Len() <= recvLowWater {
		s.unpauseQueued = true
		return true
	}
	return false
}

// Close stops the transfer if it is still running (its error becomes
// ErrAborted; an HTTP/1 connection is closed, an HTTP/2 stream reset and
// its connection closed unless another transfer uses it), waits
// until libcurl has let go of it, and releases the Easy for reuse. It
// returns nil; calling it again does nothing.
func (t *Transfer) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.released {
		return nil
	}
	s := t.s
	t.abort(ErrAborted)
	s.mu.Lock()
	if !s.done {
		done := s.doneChanLocked()
		s.mu.Unlock()
		<-done
	} else {
		s.mu.Unlock()
	}
	s.hooks.Wait() // no hook work is queued after the end
	s.mu.Lock()
	if t.err == nil {
		t.err = s.hookErr // the header or progress function failed after the end
		s.err = t.err
	}
	// The consumer reads the queue only under mu, and finds the handle
	// stale from now on; bulk storage can serve another transfer, and a
	// small one the Easy's next.
	b := s.recv.b
	if cap(b) == queueBulk {
		s.recv.b = nil
	}
	s.recv.Reset()
	t.trailer = s.trailer
	s.closed = true
	s.mu.Unlock()
	if cap(b) == queueBulk {
		releaseBulk(b)
	}
	t.released = true
	t.e.release()
	return nil
}

// abort asks the driver to stop the transfer with err, unless it is over
// or the handle is stale.
func (t *Transfer) abort(err error) { t.s.abort(t.gen, err) }

// releaseSpare returns WriteTo's second buffer once the consumer is done
// with the transfer; Do calls it after Close. Other consumers may still be
// in WriteTo when Close is called, so only Do can.
func (s *xfer) releaseSpare() {
	releaseBulk(s.spare)
	s.spare = nil
}

// queueHooksLocked hands work to the debug, header and progress functions:
// it starts a runHooks goroutine unless one is running or a hook has failed.
// The caller holds t.mu and has queued the work, on the driver or, for
// held-back progress, before the transfer is over (Close waits for the
// hooks only once it is).
func (t *xfer) queueHooksLocked() {
	if !t.hookRunning && t.hookErr == nil {
		t.hookRunning = true
		t.hooks.Add(1)
		go t.runHooks()
	}
}

// runHooks calls the Easy's debug, header and progress functions on a
// goroutine of the transfer, never inside libcurl: debug records and header
// lines in order, as copies, and the latest progress counts (a slow
// function gets fewer progress calls). One that blocks holds up no other
// transfer. It runs while there is work
// and then ends, so an idle transfer has no goroutine. An error, or a
// panic, aborts the transfer, and becomes its error even after its end
// (Close waits for runHooks, then reads hookErr).
func (t *xfer) runHooks() {
	defer t.hooks.Done()
	for {
		t.mu.Lock()
		lines, recs, dropped := t.hookLines, t.hookDebug, t.debugDropped
		t.hookLines, t.hookDebug, t.debugDropped = nil, nil, 0
		p, pending := t.progress, t.progressNew
		t.progressNew = false
		if len(lines) == 0 && len(recs) == 0 && !pending {
			t.hookRunning = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if dropped > 0 {
			recs = append(recs, debugRecord{DebugText, fmt.Appendf(nil, "curlpoll: %d debug records dropped: the debug function is slower than libcurl\n", dropped)})
		}
		if err := t.callHooks(lines, recs, p, pending); err != nil {
			err = &Error{Code: ErrAbortedByCallback, Err: err}
			t.mu.Lock()
			t.hookErr = err
			t.hookLines, t.hookRunning = nil, false
			gen := t.gen
			t.mu.Unlock()
			t.abort(gen, err)
			return
		}
	}
}

// callHooks makes one batch of hook calls, turning a panic into an error.
func (t *xfer) callHooks(lines [][]byte, recs []debugRecord, p Progress, pending bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	e := t.e
	for _, r := range recs {
		e.debugUser(t.pub, r.kind, r.data)
	}
	for _, l := range lines {
		if err := e.headerFunc(l); err != nil {
			return err
		}
	}
	if pending {
		return e.progressFunc(p)
	}
	return nil
}

// releaseProgress passes on the counts that the progress interval held
// back, at the end of the interval, unless transfer gen is over or a later
// call passed them on already.
func (t *xfer) releaseProgress(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progressHeld && !t.done && t.gen == gen {
		t.progressHeld = false
		t.progressNew = true
		t.queueHooksLocked()
	}
}

// Abort stops the transfer with cause as its error (what Err, Read, Header
// and Do return), unless it is over already; it returns at once, and the
// transfer ends on the Multi's driver soon after, as with Close. A nil cause
// is ErrAborted. It is the transfer's own "cancel with a cause": the
// context's cancellation ends it with the context's error instead. On a
// stale Transfer (Close has returned) it does nothing.
func (t *Transfer) Abort(cause error) {
	if cause == nil {
		cause = ErrAborted
	}
	t.s.abort(t.gen, cause)
}

// HeaderReady returns a channel closed when the response's final header
// block is complete (Header then returns without waiting), or when the
// transfer has ended without one. It is for a transfer started by
// Multi.Start: the handle that inline callbacks get during Multi.Do has
// none (nil).
func (t *Transfer) HeaderReady() <-chan struct{} { return t.channel((*xfer).hdrChanLocked) }

// abort asks the driver to stop transfer gen with err, unless it is over
// (or a later one runs).
func (t *xfer) abort(gen uint64, err error) {
	t.mu.Lock()
	over := t.done || t.gen != gen
	m, id := t.m, t.id
	t.mu.Unlock()
	if !over {
		m.post(work{op: opCancel, t: t, err: err, tgen: gen, id: id})
	}
}

// finish records the end of the transfer and wakes everyone waiting on it.
// Driver only, once; the driver's last touch of t.
func (t *xfer) finish(err error) {
	t.active = false
	t.m.woke = true // before the wake-up, after which t is the consumer's
	if t.wakeQueued {
		// finish wakes the consumer itself, which may then start the
		// Easy's next transfer, on another Multi too: this driver must not
		// touch t after that.
		t.wakeQueued = false
		t.m.toWake[t.wakeAt] = nil
	}
	if t.stopCtx != nil {
		t.stopCtx()
	}
	t.mu.Lock()
	t.done = true
	t.err = err
	t.pub.err = err
	done := t.doneCh
	var hdr chan struct{} // closed at the end if the header never was
	if !t.hdrDone {
		hdr = t.hdrReady
	}
	t.mu.Unlock()
	if done != nil {
		close(done)
	}
	if hdr != nil {
		close(hdr)
	}
	t.notify()
	signal(t.space)
}

// resultError turns a finished transfer's CURLcode into its error, with
// the error buffer's text and the errno (CURLINFO_OS_ERRNO), read on the
// driver as it ended: once the transfer is over the handle may be reset or
// reused before anyone looks.
func (t *xfer) resultError(rc C.CURLcode, detail string, errno C.long) error {
	if rc == C.CURLE_OK && t.cause == nil {
		return nil
	}
	err := &Error{Code: Code(rc), Detail: detail, Err: t.cause}
	if errno = transferErrno(rc, detail, t.errnoBase, errno); errno != 0 { // errno.go
		err.Errno = syscall.Errno(errno)
	}
	return err
}

// onBody is the write callback's work: queue p, or pause.
func (t *xfer) onBody(p []byte) C.size_t {
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
	t.moved()
	t.wakeLater()
	return C.size_t(len(p))
}

// moved notes that a callback moved t: for the spin guard (the Multi's
// progress) and the stall rescue (t's own). Driver only.
func (t *xfer) moved() {
	t.m.progress++
	t.movedAt = t.m.turnTime
}

// wakeLater wakes t's consumer at the end of the driver's turn, when its
// completions are handled (Multi.finishTurn): libcurl delivers a body in
// many chunks per call, and a small body with the transfer's end, so one
// wake-up per turn instead of one per chunk saves goroutine switches.
func (t *xfer) wakeLater() {
	if !t.wakeQueued {
		t.wakeQueued = true
		t.wakeAt = len(t.m.toWake)
		t.m.toWake = append(t.m.toWake, t)
	}
}

func (t *xfer) headerDoneLocked() {
	if !t.hdrDone {
		t.hdrDone = true
		if t.hdrReady != nil {
			close(t.hdrReady)
		}
	}
}

// onHeader is onHeaderLocked under t.mu.
func (t *xfer) onHeader(raw []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onHeaderLocked(raw)
}

// onHeaderLocked is the header callback's work, with t.mu held: collect
// the header block as bytes (split into lines only if Header is called),
// find where the final one ends, and keep trailers.
func (t *xfer) onHeaderLocked(raw []byte) {
	t.moved()
	// The line's end (LF, or CR LF) off; a CR more before it stays in the
	// header block, as net/textproto keeps it in the line (and refuses it),
	// but not in the status line or a trailer. A line of CRs only ends the
	// block, as libcurl takes it to (http.c: a line starting with CR).
	line, bare := raw, raw
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	for len(bare) > 0 && (bare[len(bare)-1] == '\n' || bare[len(bare)-1] == '\r') {
		bare = bare[:len(bare)-1] // bytes.TrimRight builds a set per call
	}
	switch {
	case t.hdrDone:
		if len(bare) > 0 {
			t.trailer = append(t.trailer, string(bare))
		}
	case bytes.HasPrefix(bare, []byte("HTTP/")):
		t.hdrBlock = append(append(t.hdrBlock[:0], bare...), '\n')
		t.status = statusOf(bare)
	case len(bare) > 0:
		t.hdrBlock = append(append(t.hdrBlock, line...), '\n')
	default:
		if len(line) > 0 {
			// A blank line with a CR more: kept for the block's reader to
			// refuse (net/textproto: no colon); the block ends all the same.
			t.hdrBlock = append(append(t.hdrBlock, line...), '\n')
		}
		switch {
		case t.status >= 200 && !(t.e.follow && isRedirect(t.status) && blockHasField(t.hdrBlock, "Location")):
			// The blank line that ends a final response's header block;
			// 1xx blocks and followed redirects are followed by another
			// block. The consumer is woken at the end of the turn, with
			// the body's first bytes and often the transfer's end: one
			// wake-up, not two.
			t.headerDoneLocked()
			t.wakeLater()
		case t.status == 101 && !t.e.h2cUpgrade101(t.hdrBlock):
			// Final too: what follows is another protocol's, which may
			// wait for the client to speak first.
			t.headerDoneLocked()
			t.wakeLater()
		}
	}
}

// statusOf is parseStatus of a line in bytes, without a copy.
func statusOf(line []byte) int {
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return 0
	}
	code, _, _ := bytes.Cut(bytes.TrimLeft(rest, " "), []byte(" "))
	if len(code) != 3 {
		return 0
	}
	n := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0
		}
		n = 10*n + int(c-'0')
	}
	return n
}

// blockHasField reports whether a header block (lines ending in '\n')
// has a field name.
func blockHasField(block []byte, name string) bool {
	_, ok := blockField(block, name)
	return ok
}

// hasPrefixFold is strings.HasPrefix without regard to ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// blockField returns the value of a header block's first field name.
func blockField(block []byte, name string) (value []byte, ok bool) {
	for line := range bytes.Lines(block) {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return bytes.TrimSpace(v), true
		}
	}
	return nil, false
}

// h2cUpgrade101 reports whether block, a 101's, answers the upgrade to
// h2c that libcurl asks for itself (HTTPVersion2 on an http:// URL, never
// over TLS): an interim response, after which libcurl reads the HTTP/2
// response's block. Any other 101 is final.
func (e *Easy) h2cUpgrade101(block []byte) bool {
	if e.notes.httpVersion != C.CURL_HTTP_VERSION_2_0 || !hasPrefixFold(e.notes.url, "http://") {
		return false
	}
	v, ok := blockField(block, "Upgrade")
	return ok && bytes.EqualFold(v, []byte("h2c"))
}

// StatusCode returns the status code of an HTTP status line such as
// "HTTP/1.1 200 OK" (line ending or not), or 0 if line is not one: for an
// inline header function (SetInlineHeaderFunc) that must tell the final
// header block from an interim one (1xx).
func StatusCode(line string) int {
	_, rest, ok := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
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

// onRead is the read callback's work: hand libcurl queued request body
// bytes, or pause until the pump has some.
func (t *xfer) onRead(p []byte) C.size_t {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.send.Len() > 0:
		t.moved()
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
// from offset. A new pump gets a new reader from the Easy's rewind function
// and feeds it; the old one stops at its next step.
func (t *xfer) onSeek(offset int64) C.int {
	if t.e.rewind == nil {
		return C.CURL_SEEKFUNC_CANTSEEK
	}
	t.mu.Lock()
	t.sendGen++
	gen := t.sendGen
	t.send.Reset()
	t.sendEOF, t.sendErr = false, nil
	t.mu.Unlock()
	// The rewind function is user code (the Transport's is GetBody): it
	// runs on the new pump's goroutine, not inside libcurl. Until it has
	// produced the body, the read callback pauses the transfer. It is
	// read here, while the Easy is the transfer's: the pump may start
	// after the transfer ended and the Easy was reset or reused.
	rewind := t.e.rewind
	go t.pump(nil, rewind, gen, offset)
	return C.CURL_SEEKFUNC_OK
}

// pumpBufs recycles the pumps' read buffers: each upload, however small its
// body, would otherwise make sendChunk bytes of garbage.
var pumpBufs = sync.Pool{New: func() any { return new([sendChunk]byte) }}

// pump reads the request body on its own goroutine, so that a reader that
// blocks holds up only its own transfer, and wakes a transfer that libcurl
// paused for want of data. It skips the first skip bytes. It stops at the
// body's end, at a read error, when the transfer ends, or when a rewind
// replaced it (gen). After a rewind r is nil, and rewind, the Easy's
// rewind function, gives the body again, unless the transfer has ended.
func (t *xfer) pump(r io.Reader, rewind func() (io.Reader, error), gen uint64, skip int64) {
	t.mu.Lock()
	m, tgen, done := t.m, t.gen, t.doneChanLocked()
	over := t.done || t.sendGen != gen
	t.mu.Unlock()
	if over {
		return
	}
	if r == nil { // after a rewind: get the body again first
		var err error
		if r, err = rewind(); err != nil {
			t.mu.Lock()
			if t.done || t.sendGen != gen {
				t.mu.Unlock()
				return
			}
			t.sendErr = err // the read callback aborts the transfer with it
			resume := t.sendPaused && !t.sendQueued
			t.sendQueued = t.sendQueued || resume
			t.mu.Unlock()
			if resume {
				m.post(work{op: opResumeSend, t: t, tgen: tgen})
			}
			return
		}
	}
	bp := pumpBufs.Get().(*[sendChunk]byte)
	defer pumpBufs.Put(bp) // after the last Read has returned: nothing holds it
	buf := bp[:]
	for {
		t.mu.Lock()
		for t.send.Len() >= sendHighWater && !t.done && t.sendGen == gen {
			t.mu.Unlock()
			select {
			case <-t.space:
			case <-done:
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
			m.post(work{op: opResumeSend, t: t, tgen: tgen})
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// The reader's error ends the transfer even if libcurl
				// asks for no more data (it stops at the size set, and
				// the pump reads ahead of it), as net/http fails a
				// request whose body fails (the Transport's exactLength:
				// a body longer than its ContentLength).
				t.abort(tgen, &Error{Code: ErrAbortedByCallback, Err: err})
			}
			return
		}
	}
}
