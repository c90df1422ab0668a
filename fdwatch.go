package curlpoll

// #include "shim.h"
import "C"

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/netpoll"
)

// A watcher follows one socket that libcurl asked to have watched
// (CURLMOPT_SOCKETFUNCTION).
//
// It watches a duplicate of libcurl's descriptor, never the descriptor
// itself: an *os.File of libcurl's own number would close it, or a later
// socket with the same number, behind libcurl's back.
//
// A socket that curlpoll's open-socket callback made stays registered from
// its first announcement until libcurl closes it through the close-socket
// callback: CURL_POLL_REMOVE, which libcurl 7.88 sends each time a
// keep-alive connection goes idle, only parks the watcher (no interest),
// and the next transfer on the connection finds it by descriptor. That
// saves, per request, the duplicate, its registration with the poller, and
// the watcher's goroutines. Other sockets (the threaded resolver's wake-up
// pair) are dropped on REMOVE, which libcurl sends before it closes them.
//
// libcurl 7.88 closes sockets it abandons mid-connect with a plain close(2)
// and no close callback (happy-eyeballs losers, connect timeouts, transfers
// removed while connecting; see shared/research/socket-lifetime). The
// duplicate would keep such a socket alive, so a watcher is also dropped
// whenever libcurl's number turns out to name another socket or none:
// checked on every socket callback, on REMOVE, when open_cb is handed a
// number that is still known, and by sweep after completions and removals
// for the sockets whose connect is not known to have finished.
//
// Readiness is one-shot: a direction fires once, and the driver arms it
// again only if libcurl still wants it after handling the event. Each wait
// starts with a level probe (netpoll), which is what libcurl expects: it
// does not support edge-triggered notification (curl TODO §2.5). A wait
// is done by the watcher's goroutine for that direction, or by the
// consumer of the socket's transfer when the read wait is lent to it
// (Transfer.lend); either reports the readiness the same way.
type watcher struct {
	m        *Multi
	id       uint64
	fd       int    // libcurl's descriptor
	dev, ino uint64 // identity of libcurl's socket when announced
	nfd      *netpoll.FD
	owned    bool          // made by open_cb: closed through close_cb, kept across REMOVE
	want     netpoll.Event // what libcurl asked for last; 0 when parked
	armed    [2]bool       // a wait is pending in that direction (read, write)
	arm      [2]chan struct{}
	closed   bool

	// t is the transfer that last asked to read from the socket. While its
	// consumer waits for it, the consumer may wait for the socket too (see
	// Transfer.lend); lent records that one did, so that closing the
	// duplicate never waits on the driver for that consumer to leave.
	// A socket that two transfers used at once (a multiplexed HTTP/2
	// connection) is shared, and never lent: its readiness is news for
	// many consumers, and lending it to one after another would cost a
	// goroutine switch each time instead of saving one.
	t      *Transfer
	lent   bool
	shared bool

	// The spin guard: idle counts readiness reports in a row after which
	// nothing had happened on the whole Multi since the previous one (seen
	// is m.progress plus the header lines counted in C, after that one);
	// past spinLimit the direction is re-armed only after a back-off, held
	// in rearm.
	idle    int
	seen    uint64
	backoff time.Duration
	rearm   [2]*time.Timer
}

// A socket that libcurl keeps asking about, that keeps firing, and whose
// reports make nothing happen on the Multi (no data, no header, no socket
// change, no completion) would spin the driver at full speed: that has happened with
// libcurl's own descriptors (curl#21643, an eventfd it never drained). After
// spinLimit such reports in a row the direction is re-armed after a
// back-off, from spinMinBackoff doubling to spinMaxBackoff; libcurl's own
// timeouts keep its transfers going meanwhile.
const (
	spinLimit      = 64
	spinMinBackoff = time.Millisecond
	spinMaxBackoff = 50 * time.Millisecond
)

var directions = [2]netpoll.Event{netpoll.Read, netpoll.Write}

func dirIndex(ev netpoll.Event) int {
	if ev == netpoll.Write {
		return 1
	}
	return 0
}

// onSocket is the socket callback's work. id is the socket's private pointer
// (curl_multi_assign); 0 means a socket libcurl has not announced before,
// or one it forgot at REMOVE, even if its number is known. Every case
// returns normally: an error here must not kill the multi handle.
func (m *Multi) onSocket(fd int, what int, id uint64, t *Transfer) {
	m.progress++
	w := m.sockets[id]
	if w == nil && id == 0 {
		w = m.byFD[fd] // a parked watcher, if the number still names its socket
	}
	if what >= 0 && what < len(m.stats.poll) {
		m.stats.poll[what]++
	}
	// Only a connect in progress is ever closed without the close callback
	// (libcurl 7.88): a connected socket of open_cb's needs no check, which
	// spares an fstat(2) per request on a keep-alive connection.
	if w != nil && !(w.owned && m.pending[fd] == nil) && !w.sameSocket() {
		m.dropWatcher(w) // closed behind our back, or the number was reused
		m.stats.replaced++
		w = nil
	}
	if what == C.CURL_POLL_REMOVE {
		switch {
		case w == nil:
		case w.owned:
			w.want, w.t = 0, nil // parked until libcurl closes the socket or uses it again
			m.stats.parked++
		default:
			m.dropWatcher(w)
		}
		return
	}
	if w == nil {
		w = m.newWatcher(fd)
	}
	if id != w.id {
		C.curlpoll_multi_assign(m.c, C.curl_socket_t(fd), C.uintptr_t(w.id))
	}
	switch what {
	case C.CURL_POLL_IN:
		w.want = netpoll.Read
	case C.CURL_POLL_OUT:
		w.want = netpoll.Write
	case C.CURL_POLL_INOUT:
		w.want = netpoll.Read | netpoll.Write
	default: // CURL_POLL_NONE: keep the socket, want nothing
		w.want = 0
	}
	if w.want&netpoll.Read != 0 && t != nil {
		if w.t != nil && w.t != t && w.t.active {
			w.shared = true
		}
		w.t = t
	}
	if w.nfd == nil {
		return // degraded: polled on a tick
	}
	for d, ev := range directions {
		if w.want&ev != 0 && !w.armed[d] {
			w.start(d)
		}
	}
}

func (m *Multi) newWatcher(fd int) *watcher {
	if old := m.byFD[fd]; old != nil {
		m.dropWatcher(old) // sameSocket failed for it, or will
	}
	m.nextID++
	m.stats.watchers++
	w := &watcher{m: m, id: m.nextID, fd: fd}
	m.sockets[w.id] = w
	m.byFD[fd] = w
	liveWatchers.Add(1)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil {
		w.dev, w.ino = st.Dev, st.Ino
	}
	if o := m.opened[fd]; o != nil && o.dev == w.dev && o.ino == w.ino {
		w.owned = true
	}
	nfd, err := netpoll.Dup(fd)
	if err != nil {
		// Out of descriptors, most likely. Returning an error to libcurl
		// would fail every transfer on the multi handle, so poll this
		// socket on a tick instead until libcurl removes it.
		m.degraded[w] = struct{}{}
		if m.pollTick == nil {
			m.pollTick = time.NewTicker(degradedPollInterval)
			signal(m.wake) // the driver goroutine waits for its ticks
		}
		return w
	}
	w.nfd = nfd
	liveDups.Add(1)
	return w
}

// An openSocket is a socket that open_cb made and close_cb has not closed.
type openSocket struct {
	fd       int
	dev, ino uint64
}

// onOpenSocket is the open-socket callback's work: note a socket libcurl
// will close through close_cb, unless it abandons it mid-connect.
func (m *Multi) onOpenSocket(fd int) {
	m.forgetFD(fd) // a socket that had this number was closed without close_cb
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	o := &openSocket{fd: fd, dev: st.Dev, ino: st.Ino}
	m.opened[fd] = o
	m.pending[fd] = o
}

// onCloseSocket is the close-socket callback's work: libcurl is about to
// close fd (close_cb does, when this returns).
func (m *Multi) onCloseSocket(fd int) {
	m.stats.closed++
	m.forgetFD(fd)
}

// forgetFD drops what is known of the socket numbered fd.
func (m *Multi) forgetFD(fd int) {
	delete(m.opened, fd)
	delete(m.pending, fd)
	if w := m.byFD[fd]; w != nil {
		m.dropWatcher(w)
	}
}

// sweep looks for sockets that libcurl 7.88 closed without its close
// callback. Only connects in progress are closed that way: a socket is
// checked until getpeername shows its connect finished, and forgotten if
// its number no longer names it.
func (m *Multi) sweep() {
	for fd, o := range m.pending {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Dev != o.dev || st.Ino != o.ino {
			m.stats.silentCloses++
			m.forgetFD(fd)
			continue
		}
		if _, err := unix.Getpeername(fd); err == nil {
			delete(m.pending, fd) // connected: close_cb will see it
		}
	}
}

// degradedPollInterval is how often a socket that could not be registered
// with the poller is offered to libcurl, which then checks it itself.
const degradedPollInterval = 5 * time.Millisecond

// sameSocket reports whether libcurl's descriptor still names the socket
// that was announced. The duplicate keeps that socket alive, so no other
// file can have its inode: the test has no false positives.
func (w *watcher) sameSocket() bool {
	var st unix.Stat_t
	return unix.Fstat(w.fd, &st) == nil && st.Dev == w.dev && st.Ino == w.ino
}

// start arms direction d. A direction that is ready already (a socket with
// more data than libcurl read, one that can take the request at once) is
// queued for the driver as readiness at once, which spares a hop through
// the watcher's goroutine; otherwise that goroutine waits for it, starting
// its goroutine the first time.
func (w *watcher) start(d int) {
	if w.nfd == nil {
		return // degraded: polled on a tick
	}
	w.armed[d] = true
	if w.nfd.Ready(directions[d]) {
		w.m.readyq = append(w.m.readyq, work{op: opReady, w: w, ev: directions[d]})
		return
	}
	if d == 0 && w.t != nil && !w.shared && w.t.lend(w) {
		w.lent = true
		w.m.stats.lent++
		return
	}
	w.wait(d)
}

// wait has w's goroutine for direction d wait for readiness once, starting
// the goroutine the first time. The caller has set armed[d].
func (w *watcher) wait(d int) {
	w.m.stats.watcherWaits++
	if w.arm[d] == nil {
		w.arm[d] = make(chan struct{}, 1)
		w.m.watchers.Add(1)
		liveWatchRun.Add(1)
		go w.watch(directions[d], w.arm[d])
	}
	w.arm[d] <- struct{}{} // never blocks: at most one arm is outstanding
}

// watch waits for ev each time it is armed and reports readiness to the
// driver. It never calls libcurl and never blocks on the driver. It ends
// when the watcher is dropped.
func (w *watcher) watch(ev netpoll.Event, arm <-chan struct{}) {
	defer w.m.watchers.Done()
	defer liveWatchRun.Add(-1)
	for range arm {
		if err := w.nfd.Wait(context.Background(), ev); err == netpoll.ErrClosed {
			return
		}
		// Any other wait error is reported as readiness: libcurl's own
		// I/O on the socket then finds the real error.
		w.m.post(work{op: opReady, w: w, ev: ev})
	}
}

// ready handles a readiness report: hand it to libcurl if it still wants
// that direction, then arm the direction again if it still does.
func (m *Multi) ready(w *watcher, ev netpoll.Event) {
	if w.closed {
		return
	}
	d := dirIndex(ev)
	w.armed[d] = false
	if w.want&ev == 0 {
		m.stats.staleReady++
		return // libcurl changed its mind since the wait began
	}
	// What the runtime reports for errors and hang-ups is readiness in the
	// direction waited for, as in curl's ephiperfifo.c; CURL_CSELECT_ERR
	// alone would hide the real errno from libcurl.
	bits := C.int(C.CURL_CSELECT_IN)
	if ev == netpoll.Write {
		bits = C.CURL_CSELECT_OUT
	}
	m.socketAction(C.curl_socket_t(w.fd), bits)
	// Progress is judged over the whole Multi, not this call alone: on an
	// HTTP/2 connection libcurl reads frames for other streams here and
	// delivers them in the 0 ms timeout action that follows.
	now := m.progress + uint64(m.cs.header_lines)
	moved := now != w.seen
	w.seen = now
	if w.closed || w.want&ev == 0 || w.armed[d] {
		return
	}
	if moved {
		w.idle, w.backoff = 0, 0
	} else if w.idle++; w.idle >= spinLimit {
		m.stats.spins++
		w.backoff = min(max(2*w.backoff, spinMinBackoff), spinMaxBackoff)
		w.armed[d] = true // held until the back-off ends
		w.rearm[d] = time.AfterFunc(w.backoff, func() { m.post(work{op: opRearm, w: w, ev: ev}) })
		return
	}
	w.start(d)
}

// rearmAfterBackoff ends a spin guard's back-off.
func (m *Multi) rearmAfterBackoff(w *watcher, ev netpoll.Event) {
	d := dirIndex(ev)
	w.armed[d] = false
	if !w.closed && w.want&ev != 0 {
		w.start(d)
	}
}

// pollDegraded offers libcurl every socket that is not on the poller;
// libcurl checks it with a zero-timeout poll of its own.
func (m *Multi) pollDegraded() {
	for w := range m.degraded {
		if w.want != 0 && !w.closed {
			m.socketAction(C.curl_socket_t(w.fd), 0)
		}
	}
}

// dropWatcher stops watching w: its goroutines end, its duplicate closes.
func (m *Multi) dropWatcher(w *watcher) {
	if w.closed {
		return
	}
	w.closed = true
	liveWatchers.Add(-1)
	delete(m.sockets, w.id)
	if m.byFD[w.fd] == w {
		delete(m.byFD, w.fd)
	}
	delete(m.degraded, w)
	if len(m.degraded) == 0 && m.pollTick != nil {
		m.pollTick.Stop()
		m.pollTick = nil
	}
	for _, c := range w.arm {
		if c != nil {
			close(c)
		}
	}
	for _, t := range w.rearm {
		if t != nil {
			t.Stop()
		}
	}
	w.t = nil
	if w.nfd != nil {
		if w.arm[0] == nil && w.arm[1] == nil && !w.lent {
			w.nfd.Close() // nobody waits on it: closes at once
			liveDups.Add(-1)
			return
		}
		// Closing waits until the watcher goroutines (or a consumer the
		// socket was lent to) have left their waits;
		// the driver does not wait for that. Close (shutdown) joins it.
		m.watchers.Add(1)
		go func() {
			defer m.watchers.Done()
			w.nfd.Close()
			liveDups.Add(-1)
		}()
	}
}
