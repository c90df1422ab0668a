package curlpoll

import (
	"context"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/netpoll"
)

// LiveEasies returns the number of easy handles not yet cleaned up.
func LiveEasies() int64 { return liveEasies.Load() }

// SocketCallback runs the socket callback's handler on the driver, as
// libcurl would, for fd with the CURL_POLL_* action what. It returns what
// the driver then wants of fd and whether fd is in the event set.
func (m *Multi) SocketCallback(fd, what int) (want netpoll.Event, in bool, err error) {
	return m.SocketCallbacks(fd, what)
}

// SocketCallbacks is SocketCallback for each of whats in turn, in one
// turn of the driver, as libcurl makes them within one call.
func (m *Multi) SocketCallbacks(fd int, whats ...int) (want netpoll.Event, in bool, err error) {
	err = m.exec(func() error {
		m.onSockets(fd, whats)
		s := m.sock(fd)
		want, in = s.want, s.in
		return nil
	})
	return
}

// OpenSocket and CloseSocket run the open- and close-socket callbacks'
// handlers on the driver, as libcurl would for fd.
func (m *Multi) OpenSocket(fd int) error {
	return m.exec(func() error { m.onOpenSocket(fd); return nil })
}

func (m *Multi) CloseSocket(fd int) error {
	return m.exec(func() error { m.onCloseSocket(fd); return nil })
}

// SetFD returns the descriptor of the Multi's event set.
func (m *Multi) SetFD() (int, error) {
	var fd int
	err := m.exec(func() error { fd = m.set.Fd(); return nil })
	return fd, err
}

// WritePath runs the Go side of the write callback (what goWrite does once
// it has found the transfer) n times with chunk, each time reading the
// chunk back out as a consumer would. It returns the bytes read.
func WritePath(chunk []byte, n int) int {
	m := &Multi{} // no driver: nothing here pauses or posts
	s := newXfer(nil)
	t := s.begin(m, context.Background(), false)
	buf := make([]byte, len(chunk))
	total := 0
	for i := 0; i < n; i++ {
		if int(s.onBody(chunk)) != len(chunk) {
			panic("write callback paused")
		}
		k, _ := t.Read(buf)
		total += k
	}
	return total
}

// LoseWaits makes the driver forget what libcurl waits for, its sockets'
// interest and its timeout, as a lost readiness or timeout of curlpoll's
// would: the stall rescue's test.
func (m *Multi) LoseWaits() error {
	return m.exec(func() error {
		for fd := range m.socks {
			s := &m.socks[fd]
			m.setWant(s, 0)
			m.forget(fd, s)
		}
		m.timeoutMS, m.timerDue = -1, false
		return nil
	})
}

// LibcurlH2CReuseBroken is libcurlH2CReuseBroken, for tests that count
// connections.
func LibcurlH2CReuseBroken() bool { return libcurlH2CReuseBroken() }

// LibcurlMultiplexSafe is libcurlMultiplexSafe: whether NewMulti
// multiplexes HTTP/2 by default.
func LibcurlMultiplexSafe() bool { return libcurlMultiplexSafe() }

// HandleAddr is the address of the Easy's libcurl handle, which renew
// changes.
func (e *Easy) HandleAddr() uintptr { return uintptr(e.c) }

// DriverRenewals is how many handles the driver renewed (Multi.add).
func (m *Multi) DriverRenewals() (n int, err error) {
	err = m.exec(func() error { n = m.stats.renewals; return nil })
	return
}

// HoldDriver keeps the driver busy until release is called: work posted
// meanwhile waits in its inbox, and the driver takes all of it in its next
// turn, as it does under load.
func (m *Multi) HoldDriver() (release func()) {
	held, gate := make(chan struct{}), make(chan struct{})
	go m.exec(func() error { close(held); <-gate; return nil })
	<-held
	return func() { close(gate) }
}

// Corked returns how many times the Multi's driver corked a socket
// (cork.c).
func (m *Multi) Corked() (n uint64, err error) {
	err = m.exec(func() error { n = uint64(m.cs.corked); return nil })
	return
}

// CheckCorksAfterCalls has every driver check, after each libcurl call it
// makes, that none of the sockets it knows is corked (cork.c), until stop
// is called; stop returns how many calls were checked and how many corked
// sockets they found.
func CheckCorksAfterCalls() (stop func() (calls, corked int64)) {
	var n, bad atomic.Int64
	f := func(m *Multi) {
		n.Add(1)
		for fd := range m.socks {
			s := &m.socks[fd]
			if s.numgen != numGen(fd) || !s.in && s.want == 0 {
				continue
			}
			if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK); err == nil && v != 0 {
				bad.Add(1)
			}
		}
	}
	afterCallCheck.Store(&f)
	return func() (int64, int64) {
		afterCallCheck.Store(nil)
		return n.Load(), bad.Load()
	}
}

// SocketCallbacksAround runs, in one driver turn, the socket callback's
// handler for fd with each of pre, then f, then the handler with each of
// post: what one libcurl call may do between its announcements.
func (m *Multi) SocketCallbacksAround(fd int, pre []int, f func(), post []int) error {
	return m.exec(func() error {
		m.onSockets(fd, pre)
		f()
		m.onSockets(fd, post)
		return nil
	})
}

// onSockets runs the socket callback's handler for fd with each of whats.
func (m *Multi) onSockets(fd int, whats []int) {
	for _, what := range whats {
		m.onSocket(fd, what)
	}
}

// AcceptFrom exposes acceptFrom (dial.go) to the tests.
func AcceptFrom(ln *net.TCPListener, port int) (*net.TCPConn, error) { return acceptFrom(ln, port) }
