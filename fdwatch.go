package curlpoll

// #include "shim.h"
import "C"

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/netpoll"
)

// libcurl's sockets in the Multi's event set (netpoll.Set, epoll).
//
// The set holds libcurl's own descriptors by number: no duplicate, no
// *os.File, one descriptor per socket. The socket callback
// (CURLMOPT_SOCKETFUNCTION) sets a socket's interest; the close-socket
// callback removes it before libcurl closes it. CURL_POLL_REMOVE, which
// libcurl sends each time a keep-alive connection goes idle, leaves the
// socket in the set, with the interest it had if that was reading, else
// (one epoll_ctl) with reading: if an event comes for it while libcurl
// wants nothing, the socket leaves the set then
// (EPOLL_CTL_DEL, not an empty interest, since epoll reports hang-ups and
// errors whatever the interest).
//
// A socket libcurl closes without the close-socket callback (7.88 does so
// with connects it abandons) leaves the set by itself, as the kernel drops
// a file from every epoll set once its last descriptor is closed. Its
// number may then come back for another socket, which the set does not
// hold, so no cached state is trusted for a number: every interest libcurl
// announces is an epoll_ctl (MOD, and ADD when MOD finds nothing), since
// libcurl passes socketp == NULL each time a connection is taken from its
// cache, and the open-socket callback resets what is known of its number.
//
// A socket that another process still references (a child between fork
// and exec, or any child that inherited a descriptor without
// close-on-exec) stays in the set after libcurl closes it, keyed by a file
// that no number reaches: a ghost. Every descriptor is made close-on-exec
// on first sight, each registration carries a generation in the event's
// data, events of a stale generation are dropped, and a set that keeps
// reporting them is rebuilt from what is known.
//
// A connection in a Share's pool (ShareConnections) may be closed by a
// transfer of another Multi, on that Multi's driver, or by
// curl_share_cleanup: the close-socket callback tells the Multi driving on
// its thread, or none, and a Multi that knew the number learns nothing.
// The callbacks count the sockets opened and closed under each number
// (curlpoll_numgens): when a number's count moved since the driver learned
// its socket, what the driver knew of it is stale, dropped when libcurl
// announces the number again, and not counted meanwhile (Stats.Sockets).
type sockState struct {
	gen    uint32        // generation of the registration; events with another are stale
	numgen uint32        // the number's curlpoll_numgens count when the driver learned the socket
	in     bool          // in the set, as far as the driver knows
	mine   bool          // made by the open-socket callback: close-on-exec already
	want   netpoll.Event // what libcurl asked for last (Read, Write); 0 after REMOVE
	mask   netpoll.Event // the interest registered
	held   bool          // the spin guard took it out of the set until a back-off ends
	idle   int           // readiness reports in a row that moved nothing (spin guard)
	seen   uint64        // the Multi's progress after the last report (spin guard)
	back   time.Duration // the spin guard's current back-off
	rearms *time.Timer   // ends the back-off
}

// A socket that libcurl keeps asking about, that keeps firing, and whose
// reports make nothing happen on the Multi (no data, no header, no socket
// change, no completion) would spin the driver at full speed: that has
// happened with libcurl's own descriptors (curl#21643, an eventfd it never
// drained). After spinLimit such reports in a row the socket leaves the set
// for a back-off, from spinMinBackoff doubling to spinMaxBackoff; libcurl's
// own timeouts keep its transfers going meanwhile.
const (
	spinLimit      = 64
	spinMinBackoff = time.Millisecond
	spinMaxBackoff = 50 * time.Millisecond
)

// staleLimit is how many turns in a row may see events of registrations
// the driver no longer knows before the set is rebuilt.
const staleLimit = 16

// sock returns the state of descriptor fd, growing the table as needed.
func (m *Multi) sock(fd int) *sockState {
	if fd >= len(m.socks) {
		n := max(2*len(m.socks), fd+1, 64)
		m.socks = append(m.socks, make([]sockState, n-len(m.socks))...)
	}
	return &m.socks[fd]
}

// applySockets takes in the socket callbacks recorded in C (socket_cb), in
// the order libcurl made them. The driver calls it after every libcurl
// call, and the open- and close-socket callbacks before their own work.
func (m *Multi) applySockets() {
	n := int(m.cs.nsock)
	for i := 0; i < n; i++ {
		ev := &m.cs.sockevs[i]
		m.onSocket(int(ev.fd), int(ev.what))
	}
	m.cs.nsock = 0
}

// onSocket is the socket callback's work. socketp is the socket's private
// pointer, which curlpoll never sets: libcurl passes NULL for a socket it
// announces afresh. Every case returns normally: an error here must not kill
// the multi handle.
func (m *Multi) onSocket(fd int, what int) {
	m.progress++
	if what >= 0 && what < len(m.stats.poll) {
		m.stats.poll[what]++
	}
	if fd < 0 {
		return
	}
	s := m.sock(fd)
	if g := numGen(fd); s.numgen != g {
		if s.in || s.mine || s.want != 0 {
			// Closed by a call this driver did not make (above): the
			// kernel took it out of the set, and the number, if open
			// again, is another socket's, to be seen afresh.
			m.dropState(fd, s)
		}
		s.numgen = g
	}
	var want netpoll.Event
	switch what {
	case C.CURL_POLL_IN:
		want = netpoll.Read
	case C.CURL_POLL_OUT:
		want = netpoll.Write
	case C.CURL_POLL_INOUT:
		want = netpoll.Read | netpoll.Write
	case C.CURL_POLL_REMOVE:
		m.setWant(s, 0)
		if s.mine && s.in && !s.held && s.mask&netpoll.Write != 0 {
			// Idle, it is watched for its peer (data, a close), not for
			// writability, which it would report at once: it would leave
			// the set, and a close would go unnoticed. libcurl 8.x says
			// OUT, then REMOVE, when a transfer connects, sends and gets
			// its whole response in one call.
			//
			// MOD only, never ADD: libcurl 7.88 sends REMOVE after it
			// closed an abandoned connect (OUT) without the close
			// callback, when the number may be free (EBADF) or another
			// file's (ENOENT), never libcurl's to register. Either way the
			// socket known here is gone: forget it, so that the number's
			// next socket is seen afresh, not taken for one the open-socket
			// callback made (found by a review).
			if err := m.set.Modify(fd, netpoll.Read, s.gen); err != nil {
				m.dropState(fd, s)
				return
			}
			m.stats.ctl++
			s.mask = netpoll.Read
		}
		if !s.mine {
			// Not a connection libcurl keeps (the threaded resolver's
			// pair): libcurl closes it next, without the close callback.
			// Whatever the set still holds under this number is stale,
			// and a spin guard's back-off ends with it.
			m.forget(fd, s)
			m.dropState(fd, s)
		}
		return
	default: // CURL_POLL_NONE: keep the socket, want nothing for now
		m.setWant(s, 0)
		return
	}
	if !s.mine && !s.in {
		// First sight of a socket that the open-socket callback did not
		// make: keep it from children that os/exec starts.
		cloexecPair(fd)
	}
	m.setWant(s, want)
	if s.held {
		return // the spin guard's back-off puts it back
	}
	m.watch(fd, s, want)
}

// setWant records libcurl's interest in s, keeping count of the sockets
// that want something (for the stall rescue).
func (m *Multi) setWant(s *sockState, want netpoll.Event) {
	if (s.want == 0) != (want == 0) {
		if want == 0 {
			m.wanting--
		} else {
			m.wanting++
		}
	}
	s.want = want
}

// watch registers fd with interest ev, adding it to the set if it is not
// there. An error (the descriptor is closed already: libcurl learns so
// from its own I/O) leaves the socket out of the set and ends nothing.
func (m *Multi) watch(fd int, s *sockState, ev netpoll.Event) {
	if !s.in {
		m.nextGen++
		s.gen = m.nextGen
	}
	if err := m.set.Watch(fd, ev, s.gen, s.in); err != nil {
		m.stats.watchErrors++
		s.in = false
		// libcurl waits for this socket: it must hear of it, or its
		// transfer stalls. A timeout action makes it look again.
		m.timerDue = true
		return
	}
	m.stats.ctl++
	s.in, s.mask = true, ev
}

// forget takes fd out of the set.
func (m *Multi) forget(fd int, s *sockState) {
	if s.in {
		m.set.Forget(fd) // fails if closed already: the kernel dropped it
		m.stats.ctl++
		s.in, s.mask = false, 0
	}
}

// onOpenSocket is the open-socket callback's work: fd is a new socket,
// close-on-exec, that libcurl closes through the close-socket callback
// (unless it abandons it mid-connect, see above). Whatever was known of
// its number is of a socket that is gone.
func (m *Multi) onOpenSocket(fd int) {
	s := m.sock(fd)
	want := s.want
	m.dropState(fd, s)
	s.mine = true
	s.numgen = numGen(fd)
	if want != 0 {
		// libcurl closed the socket that had this number without a
		// REMOVE (7.88, an abandoned connect), and its record of the
		// number may outlive it: when the same transfer wants the same
		// of the new socket, libcurl does not say so again. Register
		// the new socket with that interest now; an announcement that
		// differs replaces it.
		m.setWant(s, want)
		m.watch(fd, s, want)
	}
}

// onCloseSocket is the close-socket callback's work: libcurl is about to
// close fd (close_cb does, when this returns). It leaves the set now, since
// a child process may hold it open after the close.
func (m *Multi) onCloseSocket(fd int) {
	m.stats.closed++
	onRelayClosed(fd)
	if fd >= 0 {
		s := m.sock(fd)
		m.forget(fd, s)
		m.dropState(fd, s)
	}
}

// numGens is how many numbers have a count in curlpoll_numgens: from it
// up a number has none, and its socket is taken as live.
const numGens = C.CURLPOLL_NUMGENS

// numGenSlot returns fd's count in curlpoll_numgens (C memory, to read and
// change atomically), nil if fd has none: open_cb and close_cb count only
// the numbers below numGens (numgen_bump), each in its own slot, since a
// count shared by two numbers would move for a socket that is still open.
func numGenSlot(fd int) *uint32 {
	if fd < 0 || fd >= numGens {
		return nil
	}
	return (*uint32)(unsafe.Pointer(&C.curlpoll_numgens[fd]))
}

// numGen returns fd's number's count of sockets opened and closed, 0 if
// it has none.
func numGen(fd int) uint32 {
	if p := numGenSlot(fd); p != nil {
		return atomic.LoadUint32(p)
	}
	return 0
}

// live reports whether s, fd's state, is of a socket that no call this
// driver did not make has closed since the driver learned it.
func (s *sockState) live(fd int) bool {
	return s.numgen == numGen(fd)
}

// dropState forgets what is known of fd's socket, keeping its generation
// counting, so that late events of its registration are stale.
func (m *Multi) dropState(fd int, s *sockState) {
	m.setWant(s, 0)
	if s.rearms != nil {
		s.rearms.Stop()
	}
	*s = sockState{gen: s.gen + 1}
}

// event handles one readiness report of the set: hand it to libcurl if it
// wants the socket, take the socket out of the set if it does not.
func (m *Multi) event(r netpoll.Readiness) {
	if r.FD < 0 || r.FD >= len(m.socks) {
		m.stats.stale++
		m.staleSeen = true
		return
	}
	s := &m.socks[r.FD]
	if !s.in || s.gen != r.Tag || !s.live(r.FD) {
		// A registration the driver forgot: a ghost of a closed socket
		// (see above; closed elsewhere, if not live), or an event queued
		// before a change.
		m.stats.stale++
		m.staleSeen = true
		return
	}
	if s.want == 0 || s.held {
		// A kept connection that went idle, then heard from its peer
		// (most often a close): out of the set until libcurl asks again.
		m.stats.unwanted++
		m.forget(r.FD, s)
		return
	}
	var bits C.int
	if r.Events&netpoll.Read != 0 {
		bits |= C.CURL_CSELECT_IN
	}
	if r.Events&netpoll.Write != 0 {
		bits |= C.CURL_CSELECT_OUT
	}
	m.socketAction(C.curl_socket_t(r.FD), bits)
	m.spinCheck(r.FD)
}

// spinCheck is the spin guard, after a readiness report for fd. Progress is
// judged over the whole Multi, not this call alone: on an HTTP/2
// connection libcurl reads frames for other streams here and delivers them
// in the 0 ms timeout action that follows.
func (m *Multi) spinCheck(fd int) {
	s := m.sock(fd) // the table may have grown during the call
	now := m.progress + uint64(m.cs.header_lines)
	moved := now != s.seen
	s.seen = now
	if moved || s.want == 0 || !s.in {
		s.idle, s.back = 0, 0
		return
	}
	if s.idle++; s.idle < spinLimit {
		return
	}
	// idle stays at the limit: until something moves, every report
	// backs off again, for longer.
	m.stats.spins++
	s.back = min(max(2*s.back, spinMinBackoff), spinMaxBackoff)
	s.held = true
	m.forget(fd, s)
	gen := s.gen
	s.rearms = time.AfterFunc(s.back, func() { m.post(work{op: opRearm, fd: fd, gen: gen}) })
}

// rearm ends a spin guard's back-off for fd, unless fd's socket has changed
// since.
func (m *Multi) rearm(fd int, gen uint32) {
	if fd >= len(m.socks) {
		return
	}
	s := &m.socks[fd]
	if !s.held || s.gen != gen {
		return
	}
	s.held, s.rearms = false, nil
	if s.want != 0 {
		m.watch(fd, s, s.want)
	}
}

// rebuild replaces the set with a new one holding the sockets the driver
// knows: the last resort against ghosts (see above).
func (m *Multi) rebuild() {
	m.stats.rebuilds++
	if err := m.set.Rebuild(); err != nil {
		return // the old set stays; stale events are dropped one by one
	}
	for fd := range m.socks {
		s := &m.socks[fd]
		if !s.live(fd) {
			m.dropState(fd, s) // the number is not this driver's to register
		} else if s.in {
			s.in = false
			m.watch(fd, s, s.mask)
		}
	}
}

// cloexecPair makes fd close-on-exec, and if it is a Unix stream socket,
// its neighbours too when they are Unix stream sockets without
// close-on-exec: libcurl 7.88's threaded resolver makes a socketpair
// without SOCK_CLOEXEC and announces only one end; the other, which its
// resolver thread writes to, is made in the same call, most often with the
// next number. Go opens every descriptor close-on-exec, so a Unix socket
// without it is almost surely libcurl's. A fork inside the libcurl call
// that made the pair can still inherit it: holding syscall.ForkLock for
// reading during the driver's turns would close that window, but made
// every driver wait whenever a NewMulti or an exec waited for the lock,
// for the longest turn of any Multi (cancels took seconds under load).
func cloexecPair(fd int) {
	unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	if !isUnixStream(fd) {
		return
	}
	for _, n := range [2]int{fd - 1, fd + 1} {
		if n < 0 || !isUnixStream(n) {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.FcntlInt(uintptr(n), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}

func isUnixStream(fd int) bool {
	d, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || d != unix.AF_UNIX {
		return false
	}
	t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return err == nil && t == unix.SOCK_STREAM
}
