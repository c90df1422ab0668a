package curlpoll

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DialFunc makes a connection for libcurl, as net.Dialer.DialContext: see
// Easy.SetDialFunc.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// SetDialFunc has f make every TCP connection that the Easy's transfers
// open, as net/http's Transport.DialContext: the connection can be a
// net.Dialer's with a Control function (a policy on the addresses
// allowed), a Unix socket, an SSH channel, an in-memory pipe, anything
// that is a net.Conn. libcurl connects, over loopback, to a listener
// opened for that connection alone, and a goroutine dials with f and then
// relays the bytes between the two connections until either side closes:
// two goroutines per connection, and every byte goes through one more
// pair of sockets and a copy (a small request on a reused connection
// took 20–30 µs longer in BenchmarkTransportGetDialContext, sequential
// requests on a loaded two-core machine).
//
// f runs on a goroutine of its own, not inside libcurl: the transfer's
// other work and the Multi's other transfers go on while it dials. Its
// network is "tcp", its address the one libcurl would have connected to
// ("127.0.0.1:443", "[::1]:80": after libcurl's name lookup, or
// CURLOPT_CONNECT_TO's host as it is: SetConnectTo with an IP address
// spares a lookup the function does not need), and its context carries
// the values of the transfer's context and is cancelled when libcurl
// closes the socket (the transfer was stopped, or the connection closed).
// If f fails, the transfer fails with an *Error of code ErrCouldntConnect
// holding f's error (errors.Is and errors.As find it), and no request
// bytes went anywhere; a transfer that waited for that connection to
// multiplex on it fails too. Where f's connection fails a Read later
// (a read deadline of its own, a reset), libcurl sees a reset, and the
// transfer that fails with it holds that Read's error too.
//
// libcurl's own settings for the socket apply to the loopback connection,
// not to f's: binding (SetInterface, SetLocalPort) fails the transfer,
// and TCP_NODELAY and keep-alive are f's to set. A QUIC (HTTP/3)
// connection fails, as it would not go through f; a Unix socket that
// SetUnixSocketPath names is libcurl's own. Connections are kept and
// reused as libcurl's own are, also by other Easies of the Multi whose
// requests match them, with or without a dial function: give Easies that
// differ in it Multis of their own. Multi.Close ends the relays and
// waits for them, not for an f that does not return when its context is
// cancelled (what such an f returns later is closed). nil removes f;
// Reset too. The Easy keeps f until then; a relay keeps it only until f
// returns, so that what f refers to is not kept alive by the connections
// it made.
func (e *Easy) SetDialFunc(f DialFunc) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.dialFunc = f
	if f != nil {
		e.cs.dial = 1
	} else {
		e.cs.dial = 0
	}
	return nil
}

// dialRelay is one connection made by a dial function: libcurl's socket
// connects to the relay's loopback listener, and the relay carries its
// bytes.
type dialRelay struct {
	cancel context.CancelFunc // called when libcurl closes its socket
	// dial is the dial function, until the relay calls it: the relay, which
	// lives as long as the connection, keeps nothing of it after, so that
	// whatever the function refers to (an http.Transport that owns the
	// Multi) can become unreachable while its connections stay open.
	dial  DialFunc
	owner *Multi // the Multi whose driver opened it
	port  int    // libcurl's socket's loopback port
	err   atomic.Pointer[error]
	peer  atomic.Pointer[ConnInfo] // the dialled connection's addresses, once made
	// connErr is why a Read of the dialled connection failed, once it
	// has: the error of the transfer that libcurl fails for it.
	connErr atomic.Pointer[error]
}

// relays are the connections dial functions made, by the descriptor of
// libcurl's socket and by its loopback port, until libcurl closes it:
// process-wide, since another Multi's driver may close it (a connection
// pool in a Share).
var relays = struct {
	sync.Mutex
	m      map[int]*dialRelay
	byPort map[int]*dialRelay
	// failed are the relays whose connection failed, by port, from
	// libcurl's close of their socket until the transfer that failed
	// with it ends (connFailure), which is at once: a few at most.
	failed map[int]*dialRelay
}{m: make(map[int]*dialRelay), byPort: make(map[int]*dialRelay), failed: make(map[int]*dialRelay)}

// dialsMade says a dial function has made a connection in this process:
// until then no socket's close, Multi's shutdown or failed transfer looks
// at relays.
var dialsMade atomic.Bool

// readFailure reads r and keeps its first error other than io.EOF.
type readFailure struct {
	r   io.Reader
	err error
}

func (f *readFailure) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// connFailure returns why the dialled connection whose libcurl end had
// local port failed, nil if it has not or there is none: for the error of
// a transfer that failed on it, which holds the connection's error (a
// read deadline's, say) as net/http's would, beside libcurl's. Driver
// only, as the transfer ends.
func connFailure(port int) error {
	relays.Lock()
	defer relays.Unlock()
	r := relays.failed[port]
	if r != nil {
		delete(relays.failed, port)
	} else if r = relays.byPort[port]; r == nil {
		return nil
	}
	if p := r.connErr.Load(); p != nil {
		return *p
	}
	return nil
}

// DialledConnInfo returns the addresses of the connection that a dial
// function (Easy.SetDialFunc) made for the libcurl connection whose local
// end is local, as a pre-request function's ConnInfo.Local gives it:
// libcurl's own addresses for such a connection are those of its
// loopback connection to the relay. ok is false where local is not such
// a connection, or the dial function has not returned. Addresses that
// are not IP addresses (a Unix socket's) are left zero.
func DialledConnInfo(local netip.AddrPort) (ci ConnInfo, ok bool) {
	if !local.Addr().IsLoopback() {
		return ConnInfo{}, false
	}
	relays.Lock()
	r := relays.byPort[int(local.Port())]
	relays.Unlock()
	if r == nil {
		return ConnInfo{}, false
	}
	if p := r.peer.Load(); p != nil {
		return *p, true
	}
	return ConnInfo{}, false
}

// netAddrPort is a's IP address and port, zero for another kind of address.
func netAddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// forget takes r out of relays; under their lock.
func (r *dialRelay) forget(fd int) {
	delete(relays.m, fd)
	if relays.byPort[r.port] == r {
		delete(relays.byPort, r.port)
	}
	if r.connErr.Load() != nil {
		if len(relays.failed) >= 64 { // none of them was asked for
			clear(relays.failed)
		}
		relays.failed[r.port] = r
	}
}

// goDialSocket is open_cb's work for an Easy with a dial function: it
// makes libcurl's socket, bound to a loopback port, and a listener for it
// to connect to, whose address replaces the one in a, and starts the
// relay that accepts that connection, dials, and carries the bytes. It
// returns libcurl's socket, -1 if none could be made. Driver only, inside
// libcurl.
//
//export goDialSocket
func goDialSocket(mh, eh C.uintptr_t, a *C.struct_curl_sockaddr) (fd C.int) {
	m, t := multiOf(mh), transferAt(eh)
	if m == nil || t == nil || t.e.dialFunc == nil {
		return -1
	}
	fd = -1
	defer t.failOnPanic()
	address := sockaddrString(int(a.family), unsafe.Pointer(&a.addr), int(a.addrlen))
	ln, local, port, err := dialSockets()
	if err != nil {
		t.cause = err
		return -1
	}
	lnPort := ln.Addr().(*net.TCPAddr).Port
	a.family, a.protocol, a.addrlen = unix.AF_INET, unix.IPPROTO_TCP, unix.SizeofSockaddrInet4
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.addr))
	*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(lnPort>>8), byte(lnPort)

	ctx, cancel := context.WithCancel(context.WithoutCancel(t.ctx))
	dialsMade.Store(true)
	r := &dialRelay{cancel: cancel, owner: m, port: port, dial: t.e.dialFunc}
	relays.Lock()
	relays.m[local] = r
	relays.byPort[port] = r
	relays.Unlock()
	t.relay = r
	m.relayWG.Add(1)
	go r.run(ctx, address, ln, port, &m.relayWG)
	return C.int(local)
}

// dialSockets makes the loopback listener a dialled connection's relay
// accepts libcurl's connection on, and libcurl's socket, bound to a
// loopback port (port) by which the relay knows it.
func dialSockets() (ln *net.TCPListener, local, port int, err error) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if ln, err = net.ListenTCP("tcp4", lo); err != nil {
		return nil, -1, 0, err
	}
	local, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		if err = unix.Bind(local, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
			var sa unix.Sockaddr
			if sa, err = unix.Getsockname(local); err == nil {
				return ln, local, sa.(*unix.SockaddrInet4).Port, nil
			}
		}
		unix.Close(local)
	}
	ln.Close()
	return nil, -1, 0, os.NewSyscallError("socket", err)
}

// sockaddrString formats the address libcurl would connect to.
func sockaddrString(family int, sa unsafe.Pointer, n int) string {
	switch {
	case family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		a := (*unix.RawSockaddrInet4)(sa)
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1])).String()
	case family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		a := (*unix.RawSockaddrInet6)(sa)
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		ip := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(a.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, uint16(p[0])<<8|uint16(p[1])).String()
	}
	return ""
}

// onRelayClosed is the close-socket callback's part for a dialled
// connection: libcurl is about to close fd; its relay stops.
func onRelayClosed(fd int) {
	if !dialsMade.Load() { // every socket close of every Multi comes here
		return
	}
	relays.Lock()
	r := relays.m[fd]
	if r != nil {
		r.forget(fd)
	}
	relays.Unlock()
	if r != nil {
		r.cancel()
	}
}

// stopRelays stops the relays m opened whose socket libcurl closed
// without saying so (before 8.5.0 it may close a connection attempt so),
// as m shuts down.
func (m *Multi) stopRelays() {
	if !dialsMade.Load() {
		return
	}
	relays.Lock()
	defer relays.Unlock()
	for fd, r := range relays.m {
		if r.owner == m {
			r.forget(fd)
			r.cancel()
		}
	}
}

// run accepts libcurl's connection, dials, then carries bytes both ways
// until libcurl closes its socket (the connection is closed then) or the
// peer closes (libcurl reads the end of the stream).
func (r *dialRelay) run(ctx context.Context, address string, ln *net.TCPListener, port int, running *sync.WaitGroup) {
	defer running.Done()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	local, err := acceptFrom(ln, port)
	stop()
	ln.Close()
	if err != nil {
		r.dial = nil // r stays in relays until libcurl closes its socket
		if ctx.Err() == nil {
			r.fail(err)
		}
		return
	}
	defer local.Close()
	res := r.startDial(ctx, address)
	var d dialled
	select {
	case d = <-res:
	case <-ctx.Done():
		// libcurl let go of the socket, or the Multi shuts down: the
		// relay ends now. A dial function that does not heed its
		// context is not waited for (net/http does not wait for one
		// either); the connection it makes is closed when it returns.
		go func() {
			if d := <-res; d.conn != nil {
				d.conn.Close()
			}
		}()
		return
	}
	conn, err := d.conn, d.err
	if err != nil {
		if ctx.Err() == nil {
			r.fail(err)
		}
		return // libcurl reads the end of the stream
	}
	r.peer.Store(&ConnInfo{Local: netAddrPort(conn.LocalAddr()), Remote: netAddrPort(conn.RemoteAddr())})
	// Once libcurl has closed its socket (or the Multi shuts down),
	// nothing more goes either way.
	stop = context.AfterFunc(ctx, func() {
		conn.Close()
		local.Close()
	})
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		src := &readFailure{r: conn}
		if err := relayCopy(local, src); err != nil && ctx.Err() == nil {
			// The peer's connection failed (reset, timed out, broken):
			// libcurl sees a reset too, not the end of a stream, which
			// would end a body that the connection's end delimits as if
			// it were whole; and the transfer's error holds the
			// connection's own (connFailure).
			if src.err != nil {
				r.connErr.Store(&src.err)
			}
			local.SetLinger(0)
			local.Close()
			return
		}
		// The peer is done sending: libcurl reads the end of the stream.
		local.CloseWrite()
	}()
	relayCopy(conn, local)
	// libcurl is done sending: it closed its socket (ctx is cancelled
	// first, closing both), or shut it down for writing, which it does
	// not do on its own.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && ctx.Err() == nil {
		cw.CloseWrite()
	} else {
		conn.Close()
	}
	wg.Wait()
	conn.Close()
}

// dialled is what a dial function returned.
type dialled struct {
	conn net.Conn
	err  error
}

// startDial calls the dial function on a goroutine of its own, which
// sends what it returns on the channel, and drops the relay's reference
// to it.
func (r *dialRelay) startDial(ctx context.Context, address string) <-chan dialled {
	dial := r.dial
	r.dial = nil
	res := make(chan dialled, 1)
	go func() {
		conn, err := dial(ctx, "tcp", address)
		if err == nil && conn == nil {
			err = errors.New("curlpoll: the dial function returned no connection and no error")
		}
		res <- dialled{conn, err}
	}()
	return res
}

// relayCopy copies src to dst until src ends or either fails, and
// returns the failure, nil at src's end. Not
// io.Copy: between two TCP connections that splices through a pipe from a
// pool that the runtime frees only when it likes, which a check of the
// descriptors open after a test takes for a leak.
func relayCopy(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	_, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	return err
}

// acceptFrom accepts the first connection on ln that comes from port:
// libcurl's socket. Another process may connect to the listener first,
// and must not get the dialled connection.
func acceptFrom(ln *net.TCPListener, port int) (*net.TCPConn, error) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		// The address too: any process may bind the same port on
		// another loopback address (127.0.0.2, all of 127/8 is local)
		// and connect from there.
		if a := c.RemoteAddr().(*net.TCPAddr); a.Port == port && a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			return c, nil
		}
		c.Close()
	}
}

// fail records why the dial failed, for the transfer's error.
func (r *dialRelay) fail(err error) {
	r.err.Store(&err)
}

// connFailure is connFailure for t's connection, which had local port
// port, or, where libcurl knows none (the dialled connection failed while
// libcurl was still connecting to the relay), the one t dialled.
func (t *xfer) connFailure(port int) error {
	if err := connFailure(port); err != nil || t.relay == nil {
		return err
	}
	if p := t.relay.connErr.Load(); p != nil {
		return *p
	}
	return nil
}

// dialErr returns why t's connection could not be dialled, nil if it was
// or none was. Driver only, as t ends.
func (t *xfer) dialErr() error {
	if t.relay == nil {
		return nil
	}
	if p := t.relay.err.Load(); p != nil {
		return *p
	}
	return nil
}
