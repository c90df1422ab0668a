package curlpoll

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/curlpoll/curlpoll/netpoll"
)

// Multi runs transfers concurrently on one libcurl multi handle, driven by
// the Go runtime's network poller through libcurl's multi-socket API. It is
// safe for use by many goroutines: each call becomes a message to the
// Multi's driver goroutine, the only goroutine that calls libcurl for the
// multi handle and the easy handles attached to it.
//
// Connections, the DNS cache and TLS sessions are shared by the transfers
// of one Multi. Close it when done.
type Multi struct {
	c      unsafe.Pointer // CURLM*
	handle uintptr        // the socket and timer callbacks' data (multiHandles); deleted after cleanup

	// mu guards inbox, closed and running.
	mu      sync.Mutex
	inbox   []work // messages for the driver
	closed  bool   // the driver takes no more messages
	running bool   // the driver goroutine runs: a poster starts it otherwise

	parked    atomic.Bool   // the driver is parked, or about to: a poster wakes it
	quit      atomic.Bool   // Close was called
	done      chan struct{} // closed when the driver has stopped
	closeOnce sync.Once
	set       *netpoll.Set // libcurl's sockets and the driver's wake-ups

	// Driver-only state: touched by the driver goroutine and by libcurl's
	// callbacks, which run inside its calls.
	spare      []work
	evs        []netpoll.Readiness
	nevs       int         // events in evs that Park found, for the next turn
	socks      []sockState // libcurl's sockets by descriptor (fdwatch.go)
	nextGen    uint32
	wanting    int  // sockets libcurl wants something of
	staleSeen  bool // the current turn saw events of forgotten registrations
	staleRun   int  // turns in a row that did
	active     map[*xfer]struct{}
	timerDue   bool      // libcurl asked for a timeout action as soon as possible
	timeoutMS  int64     // libcurl's last timeout, -1 for none
	timeoutAt  time.Time // when it is due, if > 0
	deadline   time.Time // the set's deadline: libcurl's timeout, or the next stall check
	stallCheck time.Time // when rescueStalled looks next, while transfers run
	turnTime   time.Time // when the current turn began
	idleAt     time.Time // when the driver found the Multi idle, zero while it is not
	fired      bool      // the deadline passed
	panicked   any       // a panic recovered in a socket callback (socket, open, close)
	toWake     []*xfer
	woke       bool   // turns since the last park woke consumers (finish, finishTurn): run yields
	progress   uint64 // bumped by every callback that moved something (spin guard)
	// share is the Multi's own share of TLS sessions where libcurl keeps
	// them per easy handle (newMultiShare), nil elsewhere.
	share *C.struct_curlpoll_share
	// caFiles are the CA files (cafile.go) its transfers named: held until
	// Close, as its pooled connections may be reused only with them. Driver only.
	caFiles map[caFileKey]struct{}
	// relayWG counts the goroutines of the relays of the connections
	// dial functions made for its transfers (dial.go), which shutdown
	// waits for.
	relayWG sync.WaitGroup
	// cs is what the timer callback and the header callbacks record in C
	// (timeouts, header lines not yet seen by Go); C memory, freed by
	// shutdown.
	cs    *C.struct_curlpoll_multi
	stats counters
}

// counters count what the driver saw, for tests and Stats.
type counters struct {
	poll          [5]int // socket callbacks by CURL_POLL_* value: NONE, IN, OUT, INOUT, REMOVE
	actionTimeout int    // curl_multi_socket_action(CURL_SOCKET_TIMEOUT)
	actionSocket  int    // curl_multi_socket_action(fd, bits)
	completed     int    // transfers curl_multi_info_read reported done
	recvPauses    int    // times the write callback paused a transfer
	spins         int    // times the spin guard held a socket back
	running       int    // running_handles from the last socket action
	closed        int    // close-socket callbacks
	callbacks     int    // calls from C into Go (callbacks.go) for this Multi and its transfers
	ctl           int    // epoll_ctl calls
	watchErrors   int    // epoll_ctl calls that failed to put a socket in the set
	unwanted      int    // events for sockets libcurl wanted nothing of (then taken out)
	stale         int    // events of forgotten registrations, dropped
	rebuilds      int    // times the set was rebuilt
	rescues       int    // timeout actions given because libcurl asked for nothing
	turns         int    // driver turns
	parks         int    // times the driver parked
	exits         int    // times the driver goroutine ended on an idle Multi
	wakes         int    // Wake calls by posters
	renewals      int    // handles renewed by the driver (Multi.add)
}

// workOp is the kind of a message to the driver.
type workOp uint8

const (
	opAdd        workOp = iota // start t
	opCancel                   // stop t with err
	opResumeRecv               // the consumer drained t's buffer: resume receiving
	opResumeSend               // the upload pump has data: resume sending
	opExec                     // run fn on the driver
	opRearm                    // a spin guard's back-off for fd ended
)

type work struct {
	op   workOp
	t    *xfer
	tgen uint64 // the transfer of t the message is for (xfer.gen)
	id   uint64 // its ID, for opCancel (sortCancels): t.id may be the Easy's next transfer's by then
	err  error
	fn   func()
	fd   int
	gen  uint32
}

// NewMulti creates a multi handle (curl_multi_init) and its event set. Its
// driver goroutine starts with the first request (or option) and ends once
// the Multi has been idle for a second (no transfer, no message, no
// timeout of libcurl's), so that an unused Multi holds no goroutine.
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
	set, err := netpoll.NewSet()
	if err != nil {
		return nil, fmt.Errorf("curlpoll: %w", err)
	}
	c := newMultiHandle()
	if c == nil {
		set.Close()
		return nil, fmt.Errorf("curlpoll: curl_multi_init failed")
	}
	m := &Multi{
		c:         c,
		set:       set,
		done:      make(chan struct{}),
		active:    make(map[*xfer]struct{}),
		evs:       make([]netpoll.Readiness, eventBatch),
		timeoutMS: -1,
	}
	m.cs = (*C.struct_curlpoll_multi)(C.calloc(1, C.sizeof_struct_curlpoll_multi))
	m.handle = multiHandles.add(m)
	// The callbacks must be in place before the first add: libcurl reports
	// the first timeout only once.
	err = ErrOutOfMemory
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
		multiHandles.delete(m.handle)
		set.Close()
		return nil, err
	}
	return m, nil
}

// Do runs the transfer set up on e and returns when it is over, with nil or
// its error. The response body goes to the writer set with Easy.SetWriter,
// written on the calling goroutine. When ctx is done the transfer is stopped
// and Do returns the cause the context was given (context.WithCancelCause,
// WithTimeoutCause), as net/http's Transport does, or else ctx.Err(). Once
// Do returns, e is free: read its results or reuse it.
func (m *Multi) Do(ctx context.Context, e *Easy) error {
	t, err := m.start(ctx, e, false)
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
		t.s.releaseSpare()
		return err
	}
	t.Close()
	t.s.releaseSpare()
	return t.Err() // a header or progress function may fail it after the last byte
}

// contextError is why ctx is done, nil if it is not: the cause it was
// given (context.WithCancelCause, WithTimeoutCause), as net/http returns
// it, or else ctx.Err().
func contextError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && cause != context.DeadlineExceeded {
		return cause
	}
	return err
}

// Start starts the transfer set up on e and returns at once. Read the body
// from the Transfer, then Close it. When ctx is done the transfer stops, and
// its error is the context's cause, or ctx.Err() (see Do). e belongs to the
// transfer until Close.
func (m *Multi) Start(ctx context.Context, e *Easy) (*Transfer, error) {
	return m.start(ctx, e, true)
}

// start is Start, with a handle of its own for the caller if public, or
// the Easy's reused one (Do, which hands it to no one).
func (m *Multi) start(ctx context.Context, e *Easy, public bool) (*Transfer, error) {
	if err := contextError(ctx); err != nil {
		return nil, err
	}
	prev, err := e.acquire(m)
	if err != nil {
		return nil, err
	}
	if err := e.checkStart(); err != nil {
		e.unacquire(prev)
		return nil, err
	}
	renew, err := e.renewNeeded()
	if err != nil {
		e.unacquire(prev)
		return nil, err
	}
	// The driver renews the handle (Multi.add), unless it costs more than
	// the driver should spend on one transfer, or after DoH, where prev's
	// driver must (renew).
	e.renewDue = renew && !e.doh && !e.renewCostly()
	if renew && !e.renewDue {
		if err := e.renew(prev); err != nil {
			e.unacquire(prev)
			return nil, err
		}
	}
	e.ran = true
	if e.xf == nil {
		e.xf = newXfer(e)
	}
	s := e.xf
	t := s.begin(m, ctx, public)
	if ctx.Done() != nil {
		gen := t.gen
		s.stopCtx = context.AfterFunc(ctx, func() { s.abort(gen, contextError(ctx)) })
	}
	sendGen := s.sendGen // begin's, read by this goroutine alone until the post
	if !m.post(work{op: opAdd, t: s, tgen: t.gen}) {
		if s.stopCtx != nil {
			s.stopCtx()
		}
		s.mu.Lock()
		s.closed = true // the handle is stale: nothing ran
		s.mu.Unlock()
		e.release()
		return nil, ErrClosed
	}
	if e.reader != nil {
		go s.pump(e.reader, nil, sendGen, 0)
	}
	return t, nil
}

// Close stops every transfer (each returns ErrClosed), closes every
// connection, frees the multi handle (curl_multi_cleanup) and waits for the
// Multi's driver goroutine to end. Later calls on the Multi return
// ErrClosed. Close is idempotent.
func (m *Multi) Close() error {
	m.closeOnce.Do(func() {
		m.quit.Store(true)
		m.mu.Lock()
		start := !m.running
		m.running = true
		m.mu.Unlock()
		if start {
			go m.run() // an idle Multi's driver had ended: one to shut down
		} else {
			m.wake()
		}
	})
	<-m.done
	return nil
}

// post gives the driver a message, waking it if it is parked, or starting
// it if it has ended (an idle Multi); false if the Multi is closed.
func (m *Multi) post(w work) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.inbox = append(m.inbox, w)
	start := !m.running
	m.running = true
	m.mu.Unlock()
	if start {
		go m.run()
	} else {
		m.wake()
	}
	return true
}

// wake wakes the driver if it is parked. A driver about to park sets
// parked before it looks at its inbox and at quit for the last time, and a
// poster changes them before it looks at parked: one of the two sees the
// other. Only the poster that finds it parked writes the eventfd.
func (m *Multi) wake() {
	if m.parked.Load() && m.parked.Swap(false) {
		m.set.Wake()
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
