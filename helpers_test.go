package curlpoll_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testutil"
)

// newMulti returns a Multi that is closed, and checked for leftovers, when
// the test ends.
func newMulti(t testing.TB) *curlpoll.Multi {
	t.Helper()
	m, err := curlpoll.NewMulti()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := m.Stats(); err == nil {
			if s.Active != 0 {
				t.Errorf("%d transfers still attached at the end of the test", s.Active)
			}
			if _, ok := spinsAllowed.Load(t.Name()); s.Spins != 0 && !ok {
				t.Errorf("the spin guard held sockets back %d times in a normal workload", s.Spins)
			}
			// A rescue in HTTP hides a lost timeout or readiness of ours.
			if _, ok := rescuesAllowed.Load(t.Name()); s.Rescues != 0 && !ok {
				t.Errorf("the driver rescued stalled transfers %d times", s.Rescues)
			}
		}
		m.Close()
	})
	return m
}

// rescuesAllowed names the tests in which the stall rescue may engage.
var rescuesAllowed sync.Map

// allowRescues lets the stall rescue engage in t without failing it.
func allowRescues(t testing.TB) { rescuesAllowed.Store(t.Name(), true) }

// spinsAllowed names the tests in which the spin guard may engage.
var spinsAllowed sync.Map

// allowSpins lets the spin guard engage in t without failing it.
func allowSpins(t testing.TB) { spinsAllowed.Store(t.Name(), true) }

// newEasy returns an Easy for url that is closed when the test ends.
func newEasy(t testing.TB, url string) *curlpoll.Easy {
	t.Helper()
	e, err := curlpoll.NewEasy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Easy.Close: %v", err)
		}
	})
	must(t, e.SetURL(url))
	return e
}

// The helpers shared with curlhttp's tests (internal/testutil).
var (
	must         = testutil.Must
	mustReq      = testutil.MustReq
	testServer   = testutil.TestServer
	handler      = testutil.Handler
	pattern      = testutil.Pattern
	writePattern = testutil.WritePattern
	newTLSServer = testutil.NewTLSServer
	serverCAPEM  = testutil.ServerCAPEM
	openFDs      = testutil.OpenFDs
	listFDs      = testutil.ListFDs
	checkLeaks   = testutil.CheckLeaks
)

// tlsServer is testServer over TLS with HTTP/2 enabled; pemCA trusts it.
func tlsServer(t testing.TB) (srv *httptest.Server, pemCA []byte) {
	return newTLSServer(t, handler())
}

// rawServer accepts TCP connections on 127.0.0.1 and hands each to serve on
// its own goroutine. It records when a connection's peer went away.
type rawServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	closed chan net.Conn // connections whose client closed (read got EOF or reset)
}

func newRawServer(t testing.TB, serve func(c net.Conn)) *rawServer {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, closed: make(chan net.Conn, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
				// Wait for the client to go away, then report it.
				io.Copy(io.Discard, c)
				s.closed <- c
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// waitPeerClosed waits until the server saw a client connection end.
func (s *rawServer) waitPeerClosed(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(within):
		t.Fatalf("server did not see the connection close within %v", within)
	}
}

// readRequest reads one request head from c.
func readRequest(c net.Conn) {
	http.ReadRequest(bufio.NewReader(c))
}

// blackhole returns the address of a listener on 127.0.0.1 whose accept
// queue is full, so that the kernel drops further SYNs and a connect stays
// pending.
func blackhole(t testing.TB) string { return blackholeAt(t, "127.0.0.1", 0) }

// blackholeAt is blackhole on ip ("127.0.0.2", "::1") and port (0: any).
func blackholeAt(t testing.TB, ip string, port int) string {
	t.Helper()
	family, sa := syscall.AF_INET, syscall.Sockaddr(nil)
	if addr := net.ParseIP(ip); addr.To4() != nil {
		s4 := &syscall.SockaddrInet4{Port: port}
		copy(s4.Addr[:], addr.To4())
		sa = s4
	} else {
		family = syscall.AF_INET6
		s6 := &syscall.SockaddrInet6{Port: port}
		copy(s6.Addr[:], addr.To16())
		sa = s6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	name, _ := syscall.Getsockname(fd)
	switch a := name.(type) {
	case *syscall.SockaddrInet4:
		port = a.Port
	case *syscall.SockaddrInet6:
		port = a.Port
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	var fillers []net.Conn
	// Fill the accept queue; once a connect times out the queue is full.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		fillers = append(fillers, c)
	}
	t.Cleanup(func() {
		for _, c := range fillers {
			c.Close()
		}
		syscall.Close(fd)
	})
	return addr
}

// checkFDs fails the test if the process has more open descriptors at its
// end than at the call, once leftovers had a moment to close.
func checkFDs(t testing.TB) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		var now int
		for i := 0; i < 50; i++ {
			if now = openFDs(t); now <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("open descriptors: %d at the start, %d at the end:\n%s", before, now, listFDs())
	})
}

// osThreads returns the number of OS threads of this process.
func osThreads(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// resolverHost returns a host name that is neither an IP address nor
// "localhost" and resolves to 127.0.0.1 through the system resolver, so
// that libcurl uses its threaded resolver and its socketpair. make test
// adds it to /etc/hosts.
func resolverHost(t testing.TB) string {
	const name = "curlpoll.test"
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
		t.Skipf("%s does not resolve to 127.0.0.1 (add \"127.0.0.1 %s\" to /etc/hosts; make test does)", name, name)
	}
	return name
}

var _ = tls.VersionTLS12

// libcurlAtLeast reports whether the tests run on libcurl major.minor or
// newer.
func libcurlAtLeast(major, minor int) bool {
	var ma, mi int
	fmt.Sscanf(curlpoll.Version().Version, "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}

// libcurlTLSEOFIsError reports whether libcurl fails a TLS connection that
// the server closed without a close_notify alert (8.x, with OpenSSL 3's
// "unexpected eof while reading"), where 7.88 took it for the end of the
// stream. Versions between 7.88.1 and 8.14.1 are not tested: 8.0 is the
// line drawn here.
func libcurlTLSEOFIsError() bool { return libcurlAtLeast(8, 0) }

// dohConnections is the number of connections libcurl opens to a DoH
// server that never answers: one per lookup (A and AAAA) before 8.5.0,
// where the probes began to wait for one HTTP/2 connection to share
// (CURLOPT_PIPEWAIT in lib/doh.c).
func dohConnections() int {
	if libcurlAtLeast(8, 5) {
		return 1
	}
	return 2
}

// dohAnswer answers a DNS wire-format query: A records with 127.0.0.1,
// anything else with no answers.
func dohAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	i++
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	out := make([]byte, 12, 64)
	copy(out, q[:2])
	binary.BigEndian.PutUint16(out[2:], 0x8180) // response, RD, RA
	binary.BigEndian.PutUint16(out[4:], 1)      // QDCOUNT
	if qtype == 1 {
		binary.BigEndian.PutUint16(out[6:], 1) // ANCOUNT
	}
	out = append(out, question...)
	if qtype == 1 {
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return out
}
