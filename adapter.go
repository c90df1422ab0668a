package curlpoll

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"

	"github.com/curlpoll/curlpoll/netpoll"
)

// Multi runs transfers concurrently on one libcurl multi handle, driven by
// the Go runtime's network poller through libcurl's multi-socket API. It is
// safe for use by many goroutines: each call becomes a message to the
// Multi's driver, and exactly one goroutine at a time does the driver's
// work, the only calls into libcurl for the multi handle and the easy
// handles attached to it.
//
// Connections, the DNS cache and TLS sessions are shared by the transfers
// of one Multi. Close it when done.
type Multi struct {
	c      unsafe.Pointer // CURLM*
	handle cgo.Handle     // the socket and timer callbacks' data; deleted after cleanup

	// mu guards inbox and closed.
	mu     sync.Mutex
	inbox  []work // messages for the driver: commands and readiness reports
	closed bool   // the driver takes no more messages

	// driving is held by the goroutine doing the driver's work: the one
	// that posted a message and found it free, or the driver goroutine.
	// Only TryLock is used outside the driver goroutine, so no goroutine
	// ever waits for it inside libcurl or a callback.
	driving sync.Mutex

	wake      chan struct{} // cap 1: the driver goroutine has work
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the driver has stopped
	closeOnce sync.Once
	watchers  sync.WaitGroup // the fdwatch goroutines

	// Driver-only state: touched with driving held, by the driver's work
	// and by libcurl's callbacks, which run inside it.
	spare    []work
	readyq   []work              // readiness found by start's probe, for the driver's next turn
	readyq2  []work              // readyq's other buffer
	sockets  map[uint64]*watcher // by the id given to curl_multi_assign
	byFD     map[int]*watcher    // the same watchers, by libcurl's descriptor
	opened   map[int]*openSocket // sockets open_cb made and close_cb has not closed
	pending  map[int]*openSocket // those of opened whose connect is not known to have finished
	nextID   uint64
	active   map[*Transfer]struct{}
	timer    *time.Timer
	timerDue bool // libcurl asked for a timeout action as soon as possible
	degraded map[*watcher]struct{}
	pollTick *time.Ticker // polls degraded sockets, nil when there are none
	panicked any          // a panic recovered in a socket callback (socket, open, close)
	toWake   []*Transfer  // consumers to wake when the current libcurl call is handled
	progress uint64       // bumped by every callback that moved something (spin guard)
	// share is the Multi's own share of TLS sessions where libcurl keeps
	// them per easy handle (newMultiShare), nil elsewhere.
	share *C.struct_curlpoll_share
	// curlTimer: libcurl's timeout is set on timer; rescueArmed: timer is
	// set for the stall rescue instead (timer.go).
	curlTimer, rescueArmed bool
	// cs is what the timer callback and the header callbacks record in C
	// (timeouts, header lines not yet seen by Go); C memory, freed by
	// shutdown.
	cs    *C.struct_curlpoll_multi
	stats counters
}

// counters count what the driver saw, for tests and debugging.
type counters struct {
	poll          [5]int // socket callbacks by CURL_POLL_* value: NONE, IN, OUT, INOUT, REMOVE
	actionTimeout int    // curl_multi_socket_action(CURL_SOCKET_TIMEOUT)
	actionSocket  int    // curl_multi_socket_action(fd, bits)
	completed     int    // transfers curl_multi_info_read reported done
	staleReady    int    // readiness reports dropped: libcurl no longer wanted them
	replaced      int    // watchers dropped because libcurl's fd named a new socket
	watchers      int    // watchers created
	recvPauses    int    // times the write callback paused a transfer
	spins         int    // times the spin guard held a socket back
	running       int    // running_handles from the last socket action
	parked        int    // REMOVEs that parked a watcher instead of dropping it
	closed        int    // close-socket callbacks
	silentCloses  int    // sockets sweep found closed without the close callback
	lent          int    // read waits lent to a waiting consumer (Transfer.lend)
	watcherWaits  int    // waits handed to a watcher goroutine
	callbacks     int    // calls from C into Go (callbacks.go) for this Multi and its transfers
	rescues       int    // stall rescues: every transfer run after a second with no timeout (timer.go)
}

// workOp is the kind of a message to the driver.
type workOp uint8

const (
	opAdd        workOp = iota // start t
	opCancel                   // stop t with err
	opResumeRecv               // the consumer drained t's buffer: resume receiving
	opResumeSend               // the upload pump has data: resume sending
	opReady                    // watcher w is ready for ev
	opExec                     // run fn on the driver
	opRearm                    // a spin guard's back-off for w's ev ended
)

type work struct {
	op  workOp
	t   *Transfer
	w   *watcher
	ev  netpoll.Event
	err error
	fn  func()
}

// NewMulti creates a multi handle (curl_multi_init) and starts its driver.
//
// On libcurl older than 8.1.0 HTTP/2 multiplexing is off by default
// (CURLMOPT_PIPELINING = CURLPIPE_NOTHING): there, a stream paused by a slow
// reader can hold up every other stream on its connection (curl#10988), and
// removing a paused stream leaks its buffers (curl#10971). HTTP/2 is still
// negotiated, one stream per connection. SetMultiplex turns it back on.
func NewMulti() (*Multi, error) {
	if err := globalInit(); err != nil {
		return nil, err
	}
	c := newMultiHandle()
	if c == nil {
		return nil, fmt.Errorf("curlpoll: curl_multi_init failed")
	}
	m := &Multi{
		c:        c,
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		sockets:  make(map[uint64]*watcher),
		byFD:     make(map[int]*watcher),
		opened:   make(map[int]*openSocket),
		pending:  make(map[int]*openSocket),
		active:   make(map[*Transfer]struct{}),
		degraded: make(map[*watcher]struct{}),
		timer:    time.NewTimer(time.Hour),
	}
	m.timer.Stop()
	m.cs = (*C.struct_curlpoll_multi)(C.calloc(1, C.sizeof_struct_curlpoll_multi))
	m.handle = newHandle(m)
	// The callbacks must be in place before the first add: libcurl reports
	// the first timeout only once.
	err := error(ErrOutOfMemory)
	if m.cs != nil {
		err = multiCodeErr(C.curlpoll_multi_setup(c, C.uintptr_t(m.handle), m.cs))
	}
	if err == nil && !libcurlMultiplexSafe() {
		err = multiCodeErr(C.curlpoll_multi_setopt_long(c, C.CURLMOPT_PIPELINING, C.CURLPIPE_NOTHING))
	}
	if err == nil && libcurlSessionsPerEasy() {
		m.share, err = newMultiShare()
	}
	if err != nil {
		C.curl_multi_cleanup(c)
		C.free(unsafe.Pointer(m.cs))
		deleteHandle(m.handle)
		return nil, err
	}
	go m.run()
	return m, nil
}

// Do runs the transfer set up on e and returns when it is over, with nil or
// its error. The response body goes to the writer set with Easy.SetWriter,
// written on the calling goroutine. When ctx is done the transfer is stopped
// and Do returns ctx.Err(). Once Do returns, e is free: read its results or
// reuse it.
func (m *Multi) Do(ctx context.Context, e *Easy) error {
	t, err := m.start(ctx, e, true)
	if err != nil {
		return err
	}
	w := e.writer
	if w == nil {
		w = io.Discard
	}
	if _, err := t.WriteTo(w); err != nil {
		if t.Err() == nil { // the writer failed, not the transfer
			t.abort(err)
		}
		t.Close()
		t.releaseSpare()
		return err
	}
	t.Close()
	t.releaseSpare()
	return t.Err() // a header or progress function may fail it after the last byte
}

// Start starts the transfer set up on e and returns at once. Read the body
// from the Transfer, then Close it. When ctx is done the transfer stops, and
// its error is ctx.Err(). e belongs to the transfer until Close.
func (m *Multi) Start(ctx context.Context, e *Easy) (*Transfer, error) {
	return m.start(ctx, e, false)
}

// start is Start. waits says that the caller will wait for the transfer
// (Transfer.Header, Read or WriteTo) right after: its sockets may be lent
// to it from the start (see Transfer.lend).
func (m *Multi) start(ctx context.Context, e *Easy, waits bool) (*Transfer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.acquire(m); err != nil {
		return nil, err
	}
	if err := e.checkStart(); err != nil {
		e.release()
		return nil, err
	}
	t := newTransfer(m, e, ctx)
	t.awaiting = waits
	if ctx.Done() != nil {
		t.stopCtx = context.AfterFunc(ctx, func() { t.abort(ctx.Err()) })
	}
	if !m.post(work{op: opAdd, t: t}) {
		if t.stopCtx != nil {
			t.stopCtx()
		}
		e.release()
		return nil, ErrClosed
	}
	if e.reader != nil {
		go t.pump(e.reader, 0, 0)
	}
	return t, nil
}

// Close stops every transfer (each returns ErrClosed), closes every
// connection, frees the multi handle (curl_multi_cleanup) and waits for all
// of the Multi's goroutines to end. Later calls on the Multi return
// ErrClosed. Close is idempotent.
func (m *Multi) Close() error {
	m.closeOnce.Do(func() { close(m.quit) })
	<-m.done
	return nil
}

// post gives the driver a message, and does the driver's work on the
// calling goroutine if no other goroutine is doing it; false if the Multi
// is closed.
//
// Handing every message to a driver goroutine costs a goroutine switch
// each way, and a small request takes several: the request, the
// readiness of its socket, its completion. Done by whichever goroutine
// has the message, a request is sent on its caller's goroutine and
// received on the goroutine the poller woke for its socket, which then
// wakes the caller: two switches, as with net/http.
func (m *Multi) post(w work) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.inbox = append(m.inbox, w)
	m.mu.Unlock()
	m.kick()
	return true
}

// callerTurns bounds the driver's work done on a goroutine that posted a
// message, so that Start, a cancel or a body read do not become the
// Multi's event loop under load; what is left goes to the driver
// goroutine.
const callerTurns = 4

// kick does the driver's work on the calling goroutine, unless another
// goroutine is doing it. That one takes every message posted before it
// lets go: it checks the inbox after it unlocks, and a message appended
// before a TryLock that failed is seen there.
func (m *Multi) kick() {
	if !m.driving.TryLock() {
		return
	}
	m.endTurns(m.turns(callerTurns))
}

// endTurns lets go of driving and, if work is left (more, or messages
// that came after the last drain), leaves it to the driver goroutine.
func (m *Multi) endTurns(more bool) {
	m.driving.Unlock()
	if more || m.hasMessages() {
		signal(m.wake)
	}
}

// hasMessages reports whether the inbox holds messages.
func (m *Multi) hasMessages() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inbox) > 0
}

// exec runs fn on the driver and returns its error, or ErrClosed.
func (m *Multi) exec(fn func() error) error {
	ch := make(chan error, 1)
	if !m.post(work{op: opExec, fn: func() { ch <- fn() }}) {
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-m.done:
		select {
		case err := <-ch:
			return err
		default:
			return ErrClosed
		}
	}
}

// run is the driver goroutine, from NewMulti to the end of Close: it does
// the work that the goroutines posting messages left (see kick), fires
// libcurl's timeouts, polls degraded sockets, and shuts the Multi down.
func (m *Multi) run() {
	defer close(m.done)
	var pollC <-chan time.Time // m.pollTick's, read with driving held
	for {
		var timedOut, poll bool
		select {
		case <-m.wake:
		case <-m.timer.C:
			timedOut = true
		case <-pollC:
			poll = true
		case <-m.quit:
			m.driving.Lock()
			m.shutdown()
			m.driving.Unlock()
			return
		}
		m.driving.Lock()
		if timedOut {
			m.timerFired()
		}
		if poll {
			m.pollDegraded()
		}
		more := m.turns(driverTurns)
		pollC = nil
		if m.pollTick != nil {
			pollC = m.pollTick.C
		}
		m.endTurns(more)
	}
}

// driverTurns bounds the driver goroutine's turns between two looks at
// its timer and at Close.
const driverTurns = 64

// turns does up to n turns of the driver's work and reports whether work
// is left. A turn handles the messages in the inbox, then a 0 ms timeout
// libcurl asked for (after the messages already waiting, so that a stream
// of 0 ms timeouts cannot starve them, and never inside the libcurl call
// that asked for it), then the sockets found ready when they were armed.
// The caller holds driving.
func (m *Multi) turns(n int) bool {
	for range n {
		if m.c == nil {
			return false // shut down
		}
		did := m.drain()
		// A libcurl call that afterCall did not follow (an opExec) may
		// have set a timeout.
		m.applyTimer()
		if m.timerDue {
			m.timerDue = false
			m.socketAction(C.CURL_SOCKET_TIMEOUT, 0)
			did = true
		}
		if len(m.readyq) > 0 {
			// Sockets found ready when armed: hand them to libcurl as if
			// their watcher had fired.
			q := m.readyq
			m.readyq = m.readyq2[:0]
			for i := range q {
				m.handleWork(&q[i])
				q[i] = work{}
			}
			m.readyq2 = q[:0]
			did = true
		}
		if !did {
			return false
		}
	}
	return m.c != nil && (m.timerDue || len(m.readyq) > 0)
}

// drain handles every message in the inbox; false if there was none.
func (m *Multi) drain() bool {
	m.mu.Lock()
	items := m.inbox
	m.inbox = m.spare
	m.mu.Unlock()
	for i := range items {
		m.handleWork(&items[i])
		items[i] = work{}
	}
	m.spare = items[:0]
	return len(items) > 0
}

func (m *Multi) handleWork(w *work) {
	switch w.op {
	case opAdd:
		m.add(w.t)
	case opCancel:
		if w.t.active {
			m.remove(w.t, w.err)
			m.afterCall()
			m.sweep()
		}
	case opResumeRecv, opResumeSend:
		m.resume(w.t, w.op)
	case opReady:
		m.ready(w.w, w.ev)
	case opExec:
		w.fn()
	case opRearm:
		m.rearmAfterBackoff(w.w, w.ev)
	}
}

func (m *Multi) add(t *Transfer) {
	if err := t.ctx.Err(); err != nil {
		t.finish(err)
		return
	}
	t.e.cur = t
	t.active = true
	m.active[t] = struct{}{}
	if t.e.sockMulti != m {
		// The connections this handle opens from now on report their
		// sockets' opening and closing to this Multi.
		if rc := C.curlpoll_easy_socket_data(t.e.c, C.uintptr_t(m.handle)); rc != C.CURLE_OK {
			t.e.cur = nil
			delete(m.active, t)
			t.finish(codeErr(rc))
			return
		}
		t.e.sockMulti = m
	}
	t.e.cs.lines = &m.cs.header_lines // unset by curlpoll_done
	m.guardReuse(t.e)
	if m.share != nil && t.e.share == nil &&
		C.curlpoll_setopt_ptr(t.e.c, C.CURLOPT_SHARE, unsafe.Pointer(m.share.sh)) == C.CURLE_OK {
		t.e.multiShared = true
	}
	if rc := C.curl_multi_add_handle(m.c, t.e.c); rc != C.CURLM_OK {
		t.e.cs.lines = nil
		if t.e.cs.reuse_guard != nil {
			C.curlpoll_setopt_long(t.e.c, C.CURLOPT_FORBID_REUSE, 0)
			t.e.cs.reuse_guard = nil
		}
		if t.e.multiShared {
			C.curlpoll_setopt_ptr(t.e.c, C.CURLOPT_SHARE, nil)
			t.e.multiShared = false
		}
		t.e.cur = nil
		delete(m.active, t)
		t.finish(fmt.Errorf("curlpoll: adding transfer: %w", MultiCode(rc)))
		return
	}
	t.errnoBase = t.e.osErrnoBase() // errno.go
	m.afterCall()
}

// guardReuse keeps a PIPEWAIT transfer from leaving behind a connection
// that makes later PIPEWAIT transfers wait forever (see
// libcurlPipewaitStalls): it runs with CURLOPT_FORBID_REUSE until its first
// header line, unless it asked for that itself. The header callback and
// curlpoll_done turn it off again.
func (m *Multi) guardReuse(e *Easy) {
	if !e.pipeWait || e.forbidReuse || !libcurlPipewaitStalls() {
		return
	}
	if C.curlpoll_setopt_long(e.c, C.CURLOPT_FORBID_REUSE, 1) == C.CURLE_OK {
		e.cs.reuse_guard = e.c
	}
}

// remove detaches t from the multi handle and ends it with err. libcurl
// closes an HTTP/1 connection that is in the middle of a transfer, and
// resets an HTTP/2 stream.
func (m *Multi) remove(t *Transfer, err error) {
	m.detach(t)
	t.finish(err)
}

// complete detaches t, which libcurl has finished with result rc, and ends
// it with the error rc means.
func (m *Multi) complete(t *Transfer, rc C.CURLcode) {
	var detail string
	if rc != C.CURLE_OK || t.cause != nil {
		// Read before the handle is removed, which may log more.
		detail = C.GoString(t.e.errbuf)
	}
	ok := m.detach(t)
	if !ok && rc == C.CURLE_OK {
		// A trailer line failed the transfer after libcurl had finished
		// it; had the callback seen the line at once, libcurl would have
		// failed it so.
		rc = C.CURLE_WRITE_ERROR
	}
	t.finish(t.resultError(rc, detail, m.cs.info.os_errno))
}

// detach removes t from the multi handle with one call into C
// (curlpoll_done): the header lines the header callback still holds go to
// Go first (false if they failed the transfer), then the transfer's info
// is read into m.cs.info and kept in t.info (the Transport's Easy is reset
// right after the end), then the handle is removed.
func (m *Multi) detach(t *Transfer) (ok bool) {
	ok = C.curlpoll_done(m.c, t.e.c, t.e.cs, queueTimeKnown(), &m.cs.info) != 0
	if t.e.multiShared {
		C.curlpoll_setopt_ptr(t.e.c, C.CURLOPT_SHARE, nil)
		t.e.multiShared = false
	}
	t.info, _ = transferInfo(&m.cs.info)
	t.e.cur = nil
	delete(m.active, t)
	return ok
}

// resume lifts the pause that a callback put on one direction of t. The
// call may re-enter the write callback with data libcurl held back, which
// may pause again; a 0 ms timeout then gets the transfer moving.
func (m *Multi) resume(t *Transfer, op workOp) {
	t.mu.Lock()
	if op == opResumeRecv {
		t.recvPaused, t.unpauseQueued = false, false
	} else {
		t.sendPaused, t.sendQueued = false, false
	}
	var mask C.int
	if t.recvPaused {
		mask |= C.CURLPAUSE_RECV
	}
	if t.sendPaused {
		mask |= C.CURLPAUSE_SEND
	}
	t.mu.Unlock()
	if !t.active {
		return
	}
	// CURLE_BAD_FUNCTION_ARGUMENT here means the transfer has no connection
	// any more; its completion is on its way.
	if op == opResumeSend && t.e.mime != nil && mask&C.CURLPAUSE_SEND == 0 {
		t.e.mime.unpause(t.e.c, mask)
	} else {
		C.curl_easy_pause(t.e.c, mask)
	}
	m.afterCall()
}

// socketAction reports readiness (or a timeout, for CURL_SOCKET_TIMEOUT)
// to libcurl, then handles what it finished.
func (m *Multi) socketAction(fd C.curl_socket_t, ev C.int) {
	if fd == C.CURL_SOCKET_TIMEOUT {
		m.stats.actionTimeout++
	} else {
		m.stats.actionSocket++
	}
	var running C.int
	for C.curl_multi_socket_action(m.c, fd, ev, &running) == C.CURLM_CALL_MULTI_PERFORM {
		// Only libcurl before 7.20 returns this; it means "call again".
	}
	m.stats.running = int(running)
	m.afterCall()
}

// afterCall runs after every libcurl call the driver makes: it re-raises a
// panic that a socket callback recovered from (a bug in curlpoll,
// raised here where no C frame is below), completes every transfer that
// libcurl reports done (curl_multi_info_read), and then wakes the
// consumers that got data.
func (m *Multi) afterCall() {
	m.applyTimer()
	if p := m.panicked; p != nil {
		m.panicked = nil
		panic(p)
	}
	var priv C.uintptr_t
	var rc C.CURLcode
	ended := false
	for C.curlpoll_info_read(m.c, &priv, &rc) == 1 {
		ended = true
		// The message dies with curl_multi_remove_handle: priv and rc are
		// copies.
		t := transferAt(priv)
		if t == nil || !t.active {
			continue
		}
		m.stats.completed++
		m.progress++
		m.complete(t, rc)
	}
	if ended {
		// A transfer that ended may have dropped connects in progress
		// without the close callback (libcurl 7.88).
		m.sweep()
		// Removing it may have changed libcurl's timeout.
		m.applyTimer()
	}
	for i, t := range m.toWake {
		t.wakeQueued = false
		t.notify()
		m.toWake[i] = nil
	}
	m.toWake = m.toWake[:0]
}

// recoverCallback records a panic in a socket callback for
// afterCall to re-raise.
func (m *Multi) recoverCallback() {
	if r := recover(); r != nil && m.panicked == nil {
		m.panicked = r
	}
}

// shutdown is the driver's last act: fail what is queued, stop what runs,
// free the multi handle while its callbacks still work, then close the
// remaining watchers and wait for their goroutines.
func (m *Multi) shutdown() {
	m.mu.Lock()
	m.closed = true
	items := m.inbox
	m.inbox = nil
	m.mu.Unlock()
	for _, w := range items {
		if w.op == opAdd {
			w.t.finish(ErrClosed)
		}
	}
	for t := range m.active {
		m.remove(t, ErrClosed)
	}
	// curl_multi_cleanup closes the cached connections; for a transfer
	// still attached it would fire socket callbacks, so the callbacks'
	// state stays valid until it returns.
	C.curl_multi_cleanup(m.c)
	m.c = nil
	if m.share != nil {
		C.curlpoll_share_free(m.share) // every handle let go of it in detach
		m.share = nil
	}
	C.free(unsafe.Pointer(m.cs)) // no callback can run now
	m.cs = nil
	for _, w := range m.sockets {
		m.dropWatcher(w)
	}
	clear(m.opened)
	clear(m.pending)
	m.timer.Stop()
	if m.pollTick != nil {
		m.pollTick.Stop()
	}
	m.watchers.Wait()
	deleteHandle(m.handle)
}

// SetMaxHostConnections limits the connections to one host
// (CURLMOPT_MAX_HOST_CONNECTIONS); transfers beyond it wait. 0 means no limit.
func (m *Multi) SetMaxHostConnections(n int) error {
	return m.setLong(C.CURLMOPT_MAX_HOST_CONNECTIONS, n)
}

// SetMaxTotalConnections limits the open connections of the Multi
// (CURLMOPT_MAX_TOTAL_CONNECTIONS); transfers beyond it wait. 0 means no limit.
func (m *Multi) SetMaxTotalConnections(n int) error {
	return m.setLong(C.CURLMOPT_MAX_TOTAL_CONNECTIONS, n)
}

// SetMaxConnects sets how many idle connections the Multi keeps for reuse
// (CURLMOPT_MAXCONNECTS).
func (m *Multi) SetMaxConnects(n int) error { return m.setLong(C.CURLMOPT_MAXCONNECTS, n) }

// SetMultiplex turns HTTP/2 multiplexing on or off (CURLMOPT_PIPELINING).
// See NewMulti for its default.
func (m *Multi) SetMultiplex(on bool) error {
	v := C.CURLPIPE_NOTHING
	if on {
		v = C.CURLPIPE_MULTIPLEX
	}
	return m.setLong(C.CURLMOPT_PIPELINING, v)
}

// SetMaxConcurrentStreams sets how many HTTP/2 streams one connection may
// carry (CURLMOPT_MAX_CONCURRENT_STREAMS, 100 by default).
func (m *Multi) SetMaxConcurrentStreams(n int) error {
	return m.setLong(C.CURLMOPT_MAX_CONCURRENT_STREAMS, n)
}

// setLong is the only caller of curl_multi_setopt with a long.
func (m *Multi) setLong(opt C.CURLMoption, v int) error {
	return m.exec(func() error {
		return multiCodeErr(C.curlpoll_multi_setopt_long(m.c, opt, C.long(v)))
	})
}
