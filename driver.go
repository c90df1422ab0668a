package curlpoll

// #include "shim.h"
import "C"

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"
)

// The driver: one goroutine per Multi, the only caller of libcurl for the
// multi handle and its easy handles. It takes turns; a turn handles the
// inbox (adds, cancels, resumes), a timeout that is due, one batch of ready
// sockets from the event set (epoll_wait with timeout 0) with one
// curl_multi_socket_action each, then the transfers libcurl finished
// (curl_multi_info_read), and wakes the goroutines whose transfers have
// news. With nothing left to do it parks on the runtime's poller until a
// socket of the set is ready, a poster wakes it, or libcurl's timeout (the
// set's deadline) passes.

// eventBatch bounds the ready sockets one turn hands to libcurl, so that a
// busy Multi still gets to its inbox often.
const eventBatch = 64

// idleExit is how long the driver waits on an idle Multi before it ends:
// starting a driver again costs more than a request (its stack grows
// anew, ~30k instructions), so a Multi that serves one request after
// another keeps it.
const idleExit = time.Second

// stallRescue is how long the driver lets libcurl run transfers while it
// asks for neither a socket nor a timeout, before it runs them anyway (see
// stalled).
const stallRescue = time.Second

// run is the driver goroutine: started by the first message to an idle
// Multi (post, Close), it ends when the Multi has been idle for idleExit
// (exit) or,
// after Close, when the Multi is shut down. One runs at a time: a poster
// starts one only if none runs, under m.mu, which the ending one releases
// last.
func (m *Multi) run() {
	for {
		more := m.turn()
		if m.quit.Load() {
			m.shutdown()
			close(m.done)
			return
		}
		if more {
			// Ready sockets are left (a full batch, a socket libcurl
			// did not drain) or a 0 ms timeout is due: another turn,
			// which starts with the inbox. No runtime.Gosched here (nor
			// the one before a park below): the driver is the
			// bottleneck of every transfer of its Multi, and a yield
			// would send it to the back of the run queue, behind every
			// goroutine of a busy program (a cancel then waited seconds
			// under -race on a loaded machine). The runtime preempts it
			// if it runs long.
			continue
		}
		if !m.idle() {
			m.idleAt = time.Time{}
		} else if m.idleAt.IsZero() {
			m.idleAt = m.turnTime // the park's deadline ends the grace
		} else if !time.Now().Before(m.idleAt.Add(idleExit)) {
			m.idleAt, m.woke = time.Time{}, false
			if m.exit() {
				return
			}
		}
		if m.woke {
			// Turns since the last park woke consumers: they wait in
			// this P's run queue (the last one in its runnext slot), and
			// would wait there while the driver parks and comes back, or
			// goes on into libcurl, a cgo call that holds the P, until
			// another P steals them (a thread woken for it) or the system
			// monitor takes the P from the call (a thread more). A yield
			// runs them here first, at once, with what the driver just
			// wrote still in this CPU's caches, and what they post next
			// (the following request) is in the inbox when the driver
			// comes back, with no wake-up of a parked driver. Measured
			// (bench/NOTES.md, eighth session): Multi.Do at N=16 +9%
			// requests/s and -11% CPU per request, N=1 +7%, HTTP/2
			// N=128 +13%; the Transport at N=1 +16%, N=16 +5%, the rest
			// within noise. Only here, where the driver would park: the
			// yield puts it on the global run queue, where the poller may
			// put it after a park too, so that it waits there no longer
			// than after a park; a driver with work left (more) does not
			// yield (see above). A yield on every turn that woke someone
			// doubled the time a cancel took on a loaded Multi (p50
			// 0.22-0.47 s → 0.53-0.60 s, 128 streams and 32 busy
			// goroutines) and slowed a busy driver's data.
			m.woke = false
			runtime.Gosched()
		}
		m.park()
	}
}

// idle reports whether the driver has nothing to wait for: no transfer,
// no timeout libcurl asked for, no readiness kept for the next turn, no
// socket held back by the spin guard (its back-off ends with a message,
// which starts a driver again, but it is simpler to wait for it). Idle
// kept-alive connections stay in the event set: an event on one waits in
// the set for the next driver, whose first turn polls the set.
func (m *Multi) idle() bool {
	if len(m.active) > 0 || m.timeoutMS >= 0 || m.timerDue || m.nevs > 0 {
		return false
	}
	for i := range m.socks {
		if m.socks[i].held {
			return false
		}
	}
	return true
}

// exit ends the driver's run unless a message came or Close was called
// meanwhile: with running false, the next post starts another driver. The
// driver touches nothing after it returns true.
func (m *Multi) exit() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.inbox) > 0 || m.quit.Load() {
		return false
	}
	m.stats.exits++
	m.running = false
	return true
}

// park waits on the runtime's poller until there is work; the set's
// readiness found on the way is kept for the next turn.
func (m *Multi) park() {
	m.parked.Store(true)
	if m.quit.Load() || m.hasMessages() {
		m.parked.Store(false)
		return
	}
	m.setDeadline()
	m.stats.parks++
	n, err := m.set.Park(m.evs)
	m.parked.Store(false)
	m.nevs = n
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		m.fired = true
		m.deadline = time.Time{}
		m.set.SetDeadline(time.Time{})
	case err != nil:
		// The set failed: nothing the driver can do but keep turning
		// without parking for long. Never seen; say so loudly.
		panic(fmt.Sprintf("curlpoll: waiting on the event set: %v", err))
	}
}

// setDeadline puts on the set, before the driver parks, libcurl's timeout
// or, while transfers run, the next stall check if that comes first.
func (m *Multi) setDeadline() {
	var due time.Time
	if m.timeoutMS > 0 {
		due = m.timeoutAt
	}
	if len(m.active) > 0 {
		if m.stallCheck.IsZero() {
			m.stallCheck = time.Now().Add(stallRescue)
		}
		if due.IsZero() || m.stallCheck.Before(due) {
			due = m.stallCheck
		}
	} else {
		m.stallCheck = time.Time{}
	}
	if !m.idleAt.IsZero() {
		if end := m.idleAt.Add(idleExit); due.IsZero() || end.Before(due) {
			due = end
		}
	}
	if due.Equal(m.deadline) || due.IsZero() {
		// No deadline needed: one left in place (a timeout, a stall check
		// or an idle grace that no longer applies) only costs a turn that
		// finds nothing due, where changing it costs every park.
		return
	}
	m.deadline = due
	m.set.SetDeadline(due)
}

// turn is one turn of the driver; it reports whether work is left that
// must not wait for the poller (ready sockets beyond the batch, or a 0 ms
// timeout).
func (m *Multi) turn() (more bool) {
	m.stats.turns++
	m.turnTime = time.Now()
	m.drain()
	if m.fired {
		m.fired = false
		m.timeout()
	}
	if m.timerDue {
		m.timerDue = false
		m.timeoutNow()
	}
	n := m.nevs
	m.nevs = 0
	if n == 0 {
		n, _ = m.set.Poll(m.evs)
	}
	m.staleSeen = false
	for i := range n {
		m.event(m.evs[i])
	}
	if m.staleSeen {
		if m.staleRun++; m.staleRun >= staleLimit {
			m.staleRun = 0
			m.rebuild()
		}
	} else {
		m.staleRun = 0
	}
	// A 0 ms timeout asked for by what just ran (a handle added, a
	// transfer's next step): run it now, once; more wait for the next
	// turn, after the inbox, so that a stream of them cannot starve it.
	if m.timerDue {
		m.timerDue = false
		m.timeoutNow()
	}
	if !m.stallCheck.IsZero() && !m.turnTime.Before(m.stallCheck) && n < len(m.evs) {
		// Checked on a busy driver too, which may not park for long, but
		// after this turn's events, and not while a full batch leaves
		// more: a driver that the scheduler held back (a loaded machine)
		// finds its transfers' readiness waiting, and they move now.
		m.stallCheck = m.turnTime.Add(stallRescue)
		m.rescueStalled()
	}
	m.finishTurn()
	return n == len(m.evs) || m.timerDue || m.staleSeen
}

// timeout runs the timeout action libcurl asked for, when the set's
// deadline passed and it is due (the deadline may be a stall check's).
func (m *Multi) timeout() {
	if m.timeoutMS < 0 || m.turnTime.Before(m.timeoutAt) {
		return
	}
	// The timeout is used up. A timeout action makes libcurl announce its
	// next one even if unchanged (it clears its record of the last), but
	// when none is left it says nothing: keeping this one would fire it
	// again and again.
	m.timeoutNow()
}

// timeoutNow runs a timeout action. The timeout libcurl asked for is used
// up: the action makes libcurl announce its next one even if unchanged,
// and nothing if none is left (a 0 ms timeout kept would also keep an idle
// Multi's driver from ending).
func (m *Multi) timeoutNow() {
	m.timeoutMS = -1
	m.socketAction(C.CURL_SOCKET_TIMEOUT, 0)
}

// rescueStalled runs every transfer once (curl_multi_socket_all,
// deprecated but kept by libcurl for this) when one has not moved for
// stallRescue and is not paused (a paused transfer waits for its reader
// or writer, rightly). libcurl 7.88 leaves FTP transfers on a reused
// control connection, and explicit FTPS ones, waiting with neither a
// socket nor a timeout of their own, while the multi handle may still
// have other transfers' sockets and timeouts: a timeout action runs only
// the transfers whose timers expired, and a socket's readiness only that
// socket's. Each rescue is counted (Stats.Rescues): a transfer that merely
// waits a second for its server is run for nothing and counted too, and in
// HTTP tests, which never wait so, the count stays 0, so that a rescue
// cannot hide a lost timeout of curlpoll's own.
func (m *Multi) rescueStalled() {
	stalled := false
	for t := range m.active {
		if m.turnTime.Sub(t.movedAt) < stallRescue || t.e.cs.nlines != t.linesSeen {
			t.linesSeen = t.e.cs.nlines // header lines, counted in C (FTP's replies)
			continue
		}
		t.mu.Lock()
		paused := t.recvPaused || t.sendPaused
		t.mu.Unlock()
		if !paused {
			stalled = true
			break
		}
	}
	if !stalled {
		return
	}
	m.stats.rescues++
	raceReleaseIO()
	C.curlpoll_run_all(m.c, m.cs)
	m.stats.running = int(m.cs.running)
	m.afterCall()
}

// drain handles every message in the inbox.
func (m *Multi) drain() {
	m.mu.Lock()
	items := m.inbox
	m.inbox = m.spare
	m.mu.Unlock()
	sortCancels(items)
	for i := range items {
		m.handleWork(&items[i])
		items[i] = work{}
	}
	m.spare = items[:0]
}

// sortCancels puts each run of cancels in items in the order their
// transfers started. libcurl 7.88 keeps a host's connections in a list in
// the order they were made, and finds a connection there by walking it
// when a transfer leaves: cancelling 10,000 transfers in the order their
// contexts happened to fire (a context's children are a map) walked half of
// it each time.
func sortCancels(items []work) {
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].op == opCancel {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(items[i:j], func(a, b work) int { return cmp.Compare(a.id, b.id) })
		}
		i = max(j, i+1)
	}
}

func (m *Multi) handleWork(w *work) {
	switch w.op {
	case opAdd:
		m.add(w.t, w.tgen)
	case opCancel:
		if w.t.current(w.tgen) {
			m.remove(w.t, w.err)
		}
	case opResumeRecv, opResumeSend:
		m.resume(w.t, w.tgen, w.op)
	case opExec:
		w.fn()
		// The function may have called libcurl.
		m.applySockets()
		m.applyTimer()
	case opRearm:
		m.rearm(w.fd, w.gen)
	}
}

func (m *Multi) add(t *xfer, gen uint64) {
	// The driver's own state of the transfer, left by the previous one.
	t.runGen = gen
	t.cause = nil
	t.relay = nil
	t.lastProgress = time.Time{}
	t.linesSeen = 0
	if err := contextError(t.ctx); err != nil {
		t.finish(err)
		return
	}
	if t.e.renewDue {
		t.e.renewDue = false
		if err := t.e.renew(m); err != nil {
			t.finish(err)
			return
		}
		m.stats.renewals++
	}
	t.e.cur = t
	t.active = true
	t.movedAt = m.turnTime
	m.active[t] = struct{}{}
	t.e.cs.multi = m.cs // unset by curlpoll_done
	t.e.cs.attempts, t.e.cs.over_limit = 0, 0
	t.e.cs.trailers_once = 0
	if t.e.trailerFunc != nil && libcurlTrailerStateSticks() {
		// One request, and the option set again: libcurl dropped it if
		// the handle (or the one it duplicates) sent trailers before.
		t.e.cs.trailers_once = 1
		t.e.trailersRan = true
		C.curlpoll_set_trailers(t.e.c, t.e.cs, 1)
	}
	// Do waits for the end, not the header block: the block can come to
	// Go with the body (write_cb). A header hook (the Transport's) must
	// see each block as it ends.
	t.e.cs.defer_hdr = 0
	if t.pub == &t.doPub && t.e.headerHook == nil {
		t.e.cs.defer_hdr = 1
	}
	m.guardReuse(t.e)
	// One call into C sets the Multi's own share on the handle (unless it
	// has one of its own), reads the errno the transfer starts with
	// (errno.go) and adds the handle.
	var share unsafe.Pointer
	if m.share != nil && t.e.share == nil {
		share = m.share.sh
	}
	m.holdCAFiles(t.e)
	raceReleaseIO()
	rc := C.curlpoll_add(hnd(m.c), hnd(t.e.c), hnd(share), m.cs)
	t.e.multiShared = m.cs.add_shared != 0
	t.errnoBase = m.cs.add_errno
	if rc != C.CURLM_OK {
		t.e.cs.multi = nil
		if t.e.cs.reuse_guard != nil {
			C.curlpoll_setopt_long(t.e.c, C.CURLOPT_FORBID_REUSE, 0)
			t.e.cs.reuse_guard = nil
		}
		m.unshare(t.e)
		t.e.cur = nil
		delete(m.active, t)
		t.finish(fmt.Errorf("curlpoll: adding transfer: %w", MultiCode(rc)))
		return
	}
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
// resets an HTTP/2 stream; the connection of an HTTP/2 stream is closed
// too where no other transfer uses it (closeAfterAbort).
func (m *Multi) remove(t *xfer, err error) {
	closeAfterAbort(t.e)
	m.detach(t)
	t.e.resent = true // a retry may have been counted, and not sent
	t.finish(err)
	m.afterCall()
}

// closeAfterAbort makes libcurl close the connection of a transfer removed
// before its end, unless another transfer uses it (CURLOPT_FORBID_REUSE,
// turned off again by curlpoll_done, as guardReuse's). libcurl queues the
// RST_STREAM of an HTTP/2 stream removed early on the connection, and the
// connection goes back to the pool, where nothing is sent until a later
// transfer uses it: the server never heard that the stream was given up,
// and went on sending it (a stream of events, go-openai's, that the
// caller stopped) for as long as no other request came. Closed, the
// connection tells the server at once, as net/http's RST_STREAM does; a
// connection that other transfers use sends the RST_STREAM with their
// traffic. An HTTP/1 connection mid-transfer is closed anyway.
func closeAfterAbort(e *Easy) {
	if e.forbidReuse || e.cs.reuse_guard != nil {
		return
	}
	if C.curlpoll_setopt_long(e.c, C.CURLOPT_FORBID_REUSE, 1) == C.CURLE_OK {
		e.cs.reuse_guard = e.c
	}
}

// complete detaches t, which libcurl has finished with result rc, and ends
// it with the error rc means.
func (m *Multi) complete(t *xfer, rc C.CURLcode) {
	var detail string
	if rc != C.CURLE_OK || t.cause != nil {
		// Read before the handle is removed, which may log more.
		detail = C.GoString(t.e.errbuf)
	}
	ok := m.detach(t)
	if rc != C.CURLE_OK {
		// libcurl counts a retry before it goes out: the retry's
		// connection may have failed.
		t.e.resent = true
		if t.e.cs.over_limit != 0 && t.cause == nil {
			t.cause = ErrRequestLimit
		}
	}
	errno := m.cs.info.os_errno
	if derr := t.dialErr(); derr != nil && rc != C.CURLE_OK && t.cause == nil {
		// The connection never was: what libcurl saw of it (the end of
		// the stream, a failed send or handshake) says nothing.
		rc, detail, errno, t.cause = C.CURLE_COULDNT_CONNECT, "", 0, derr
	} else if rc != C.CURLE_OK && t.cause == nil && dialsMade.Load() {
		t.cause = t.connFailure(int(m.cs.info.local_port))
	}
	if !ok && rc == C.CURLE_OK {
		// A trailer line failed the transfer after libcurl had finished
		// it; had the callback seen the line at once, libcurl would have
		// failed it so.
		rc = C.CURLE_WRITE_ERROR
	}
	t.finish(t.resultError(rc, detail, errno))
}

// detach removes t from the multi handle with one call into C
// (curlpoll_done): the header lines the header callback still holds go to
// Go first (false if they failed the transfer), then the transfer's info
// is read into m.cs.info and kept in t.cinfo (the Transport's Easy is
// reset right after the end), to convert if asked for, then the handle is
// removed.
func (m *Multi) detach(t *xfer) (ok bool) {
	var unshare C.int
	if t.e.multiShared {
		unshare = 1
		t.e.multiShared = false
	}
	ok = C.curlpoll_done(hnd(m.c), hnd(t.e.c), t.e.cs, queueTimeKnown(), m.cs, unshare) != 0
	t.pub.cinfo = m.cs.info
	// More requests than one and the redirects followed (which count an
	// authentication's rounds too): a retry (see renewNeeded).
	t.e.resent = t.e.cs.attempts > 1+t.e.cs.redirects
	t.e.cur = nil
	delete(m.active, t)
	return ok
}

// unshare takes the Multi's own share off e's handle, if add set it.
func (m *Multi) unshare(e *Easy) {
	if e.multiShared {
		C.curlpoll_setopt_ptr(e.c, C.CURLOPT_SHARE, nil)
		e.multiShared = false
	}
}

// resume lifts the pause that a callback put on one direction of t. The
// call may re-enter the write callback with data libcurl held back, which
// may pause again; a 0 ms timeout then gets the transfer moving.
func (m *Multi) resume(t *xfer, gen uint64, op workOp) {
	t.mu.Lock()
	if t.gen != gen {
		t.mu.Unlock()
		return // a stale handle's, or an ended transfer's pump's: the flags are another transfer's
	}
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
	// Read under mu with the gen check: once the transfer is over, its
	// Easy may begin the next one, on another Multi whose driver writes
	// active.
	active := t.active
	t.mu.Unlock()
	if !active {
		return
	}
	// CURLE_BAD_FUNCTION_ARGUMENT here means the transfer has no connection
	// any more; its completion is on its way.
	raceReleaseIO()
	if op == opResumeSend && t.e.mime != nil && mask&C.CURLPAUSE_SEND == 0 {
		t.e.mime.unpause(t.e.c, mask, m.cs) // mime.go
	} else {
		C.curlpoll_easy_pause(t.e.c, mask, m.cs)
	}
	m.afterCall()
}

// socketAction reports readiness (or a timeout, for CURL_SOCKET_TIMEOUT)
// to libcurl.
func (m *Multi) socketAction(fd C.curl_socket_t, ev C.int) {
	if fd == C.CURL_SOCKET_TIMEOUT {
		m.stats.actionTimeout++
	} else {
		m.stats.actionSocket++
	}
	raceReleaseIO()
	C.curlpoll_socket_action(hnd(m.c), fd, ev, m.cs)
	m.stats.running = int(m.cs.running)
	m.afterCall()
}

// afterCall runs after every libcurl call the driver makes: it takes in
// what the socket and timer callbacks recorded, and re-raises a panic that a socket
// callback recovered from (a bug in curlpoll, raised here where no C frame
// is below).
func (m *Multi) afterCall() {
	raceAcquireIO()
	if f := afterCallCheck.Load(); f != nil {
		(*f)(m)
	}
	m.applySockets()
	m.applyTimer()
	if p := m.panicked; p != nil {
		m.panicked = nil
		panic(p)
	}
}

// afterCallCheck, set by tests, runs on the driver after each libcurl call
// it makes, before it takes in what the call changed.
var afterCallCheck atomic.Pointer[func(*Multi)]

// finishTurn completes every transfer that libcurl reports done
// (curl_multi_info_read), then wakes the consumers that got news during
// the turn, each once.
func (m *Multi) finishTurn() {
	for {
		// Messages die with curl_multi_remove_handle: these are copies.
		n := int(C.curlpoll_info_read(m.c, m.cs))
		for i := range n {
			msg := m.cs.msgs[i]
			t := transferAt(msg.priv)
			if t == nil || !t.active {
				continue
			}
			m.stats.completed++
			m.progress++
			m.complete(t, msg.result)
			m.afterCall() // removing it may have changed libcurl's timeout
		}
		if n < C.CURLPOLL_MSGS {
			break
		}
	}
	for i, t := range m.toWake {
		if t != nil { // nil: finished, and woken, by finish
			t.wakeQueued = false
			t.notify()
			m.toWake[i] = nil
			m.woke = true
		}
	}
	m.toWake = m.toWake[:0]
}

// recoverCallback records a panic in a socket callback for afterCall to
// re-raise.
func (m *Multi) recoverCallback() {
	if r := recover(); r != nil && m.panicked == nil {
		m.panicked = r
	}
}

// shutdown is the driver's last act: fail what is queued, stop what runs,
// free the multi handle while its callbacks still work, then close the
// event set.
func (m *Multi) shutdown() {
	m.mu.Lock()
	m.closed = true
	items := m.inbox
	m.inbox = nil
	m.mu.Unlock()
	for _, w := range items {
		switch w.op {
		case opAdd:
			w.t.finish(ErrClosed)
		case opExec:
			w.fn() // the Multi still works: Easy.Close's cleanup, Stats
		}
	}
	for t := range m.active {
		m.detach(t)
		t.finish(ErrClosed)
	}
	// curl_multi_cleanup closes the cached connections, firing the
	// close-socket callback, so the callbacks' state stays valid until it
	// returns.
	C.curlpoll_multi_cleanup(m.c, m.cs)
	m.c = nil
	// Every dialled connection's socket is closed: its relay ends, once
	// the dial function returns where it still runs.
	m.stopRelays()
	m.relayWG.Wait()
	for key := range m.caFiles { // no connection can name them now
		releaseCAFile(key)
	}
	m.caFiles = nil
	if m.share != nil {
		C.curlpoll_share_free(m.share) // every handle let go of it in detach
		m.share = nil
	}
	C.free(unsafe.Pointer(m.cs)) // no callback can run now
	m.cs = nil
	for fd := range m.socks {
		if s := &m.socks[fd]; s.rearms != nil {
			s.rearms.Stop()
		}
	}
	m.socks = nil
	m.set.Close()
	multiHandles.delete(m.handle)
}
