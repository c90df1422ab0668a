package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// countingDialer dials one address, whatever libcurl asks for, and records
// what it was asked and what it made.
type countingDialer struct {
	network, target string
	mu              sync.Mutex
	asked           []string
	conns           []net.Conn
}

func (d *countingDialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, d.network, d.target)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, network+" "+address)
	if c != nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *countingDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// TestSetDialFunc: the dial function makes the connection of a host that
// has no address (CURLOPT_CONNECT_TO names a literal one for libcurl),
// once for three requests (the connection is kept and reused); it is asked
// for the address libcurl would have connected to, and the bodies arrive
// whole, both ways.
func TestSetDialFunc(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	d := &countingDialer{network: "tcp", target: srv.Listener.Addr().String()}
	m := newMulti(t)
	host := "http://no-such-host.invalid:" + strconv.Itoa(port)
	e := newEasy(t, host+"/")
	must(t, e.SetDialFunc(d.dial))
	must(t, e.SetConnectTo([]string{"::127.0.0.1:"}))
	var dialled []string // what DialledConnInfo says of each request's connection
	must(t, e.SetPrereqFunc(func(_ *curlpoll.Transfer, ci curlpoll.ConnInfo) error {
		// The dial may still run as libcurl sends its first request
		// (to the relay): asked again as the transfer ends, below.
		dialled = append(dialled, ci.Local.String())
		return nil
	}))
	want := func(n int) []byte {
		var b bytes.Buffer
		writePattern(&b, int64(n))
		return b.Bytes()
	}
	for i, path := range []string{"/hello", "/bytes?n=300000", "/echo?count=1"} {
		var got bytes.Buffer
		must(t, e.SetURL(host+path))
		must(t, e.SetWriter(&got))
		body := []byte("hello")
		switch path {
		case "/bytes?n=300000":
			body = want(300000)
		case "/echo?count=1":
			must(t, e.SetPostFields(want(200000)))
			body = []byte("200000")
		}
		if err := m.Do(context.Background(), e); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), body) {
			t.Fatalf("%s: %d bytes, want %d", path, got.Len(), len(body))
		}
	}
	if calls := d.calls(); len(calls) != 1 || calls[0] != "tcp 127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("dial function asked %q, want once for tcp 127.0.0.1:%d", calls, port)
	}
	for _, local := range dialled {
		ci, ok := curlpoll.DialledConnInfo(netip.MustParseAddrPort(local))
		if !ok || ci.Remote.String() != srv.Listener.Addr().String() || ci.Local.String() != d.conns[0].LocalAddr().String() {
			t.Fatalf("DialledConnInfo(%s) = %v, %v; want the dialled connection's %v -> %v", local, ci, ok, d.conns[0].LocalAddr(), srv.Listener.Addr())
		}
	}
	if len(dialled) != 3 {
		t.Fatalf("%d pre-request calls", len(dialled))
	}
}

// TestSetDialFuncUnixSocket: a dial function that connects to a Unix
// socket, as Docker's clients do; closing the Multi closes the connection
// the function made, and its relay ends (checkFDs, goleak).
func TestSetDialFuncUnixSocket(t *testing.T) {
	checkFDs(t)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	must(t, err)
	closed := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over "+r.Host)
	}), ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			close(closed)
		}
	}}
	go srv.Serve(ln)
	defer srv.Close()
	d := &countingDialer{network: "unix", target: path}
	m, err := curlpoll.NewMulti()
	must(t, err)
	defer m.Close()
	e := newEasy(t, "http://docker/v1.41/info")
	must(t, e.SetDialFunc(d.dial))
	must(t, e.SetConnectTo([]string{"::127.0.0.1:"}))
	var got bytes.Buffer
	must(t, e.SetWriter(&got))
	must(t, m.Do(context.Background(), e))
	if got.String() != "over docker" {
		t.Fatalf("body %q", got.String())
	}
	must(t, m.Close())
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's connection is open 10 s after Multi.Close")
	}
}

// TestSetDialFuncTLS: TLS runs over the dialled connection, verified for
// the URL's host.
func TestSetDialFuncTLS(t *testing.T) {
	srv, ca := tlsServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	d := &countingDialer{network: "tcp", target: srv.Listener.Addr().String()}
	m := newMulti(t)
	e := newEasy(t, "https://example.com:"+strconv.Itoa(port)+"/hello")
	must(t, e.SetCAInfoBlob(ca))
	must(t, e.SetDialFunc(d.dial))
	must(t, e.SetConnectTo([]string{"::127.0.0.1:"}))
	var got bytes.Buffer
	must(t, e.SetWriter(&got))
	must(t, m.Do(context.Background(), e))
	if got.String() != "hello" || len(d.calls()) != 1 {
		t.Fatalf("body %q, dial calls %q", got.String(), d.calls())
	}
}

// TestSetDialFuncError: the dial function's error is the transfer's, and
// nothing reaches the server.
func TestSetDialFuncError(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	errNo := errors.New("not this host")
	m := newMulti(t)
	for _, url := range []string{srv.URL + "/", strings.Replace(srv.URL, "http:", "https:", 1) + "/"} {
		e := newEasy(t, url)
		must(t, e.SetDialFunc(func(ctx context.Context, network, address string) (net.Conn, error) { return nil, errNo }))
		err := m.Do(context.Background(), e)
		var ce *curlpoll.Error
		if !errors.Is(err, errNo) || !errors.As(err, &ce) || ce.Code != curlpoll.ErrCouldntConnect {
			t.Fatalf("%s: %v, want an ErrCouldntConnect *Error holding the dial function's", url, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the server saw %d requests", n)
	}
}

// TestSetDialFuncCancel: a transfer stopped while its dial function runs
// returns at once, and the function's context is cancelled (it returns,
// and its relay ends: goleak).
func TestSetDialFuncCancel(t *testing.T) {
	checkFDs(t)
	m := newMulti(t)
	e := newEasy(t, "http://127.0.0.1:9/")
	started, ended := make(chan struct{}), make(chan error, 1)
	must(t, e.SetDialFunc(func(ctx context.Context, network, address string) (net.Conn, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	begin := time.Now()
	if err := m.Do(ctx, e); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do: %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("Do returned %v after the cancel", d)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("dial context: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dial function's context was not cancelled")
	}
}

// TestSetDialFuncNoQUIC: with a dial function, an HTTP/3 connection,
// which would not go through it, fails, where without one it succeeds.
func TestSetDialFuncNoQUIC(t *testing.T) {
	if !curlpoll.Version().HTTP3 {
		t.Skip("libcurl without HTTP/3")
	}
	s := newH3Server(t, handler())
	m := newMulti(t)
	e := h3Easy(t, s, "/hello")
	must(t, m.Do(context.Background(), e))
	m = newMulti(t) // m would reuse its QUIC connection
	e = h3Easy(t, s, "/hello")
	var dialed atomic.Bool
	must(t, e.SetDialFunc(func(ctx context.Context, network, address string) (net.Conn, error) {
		dialed.Store(true)
		return nil, errors.New("no")
	}))
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrCouldntConnect) || dialed.Load() {
		t.Fatalf("Do: %v (want ErrCouldntConnect), dial function called: %v", err, dialed.Load())
	}
}

// TestDialRelayPeerAddress: the relay takes only libcurl's socket
// (127.0.0.1, its port) for the connection it dials. Another local
// process that binds another loopback address (127.0.0.2 and up, all on
// lo) with the same port number, read from /proc/net/tcp, and connects
// first must not get the dialled connection.
func TestDialRelayPeerAddress(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer ln.Close()
	// libcurl's socket: bound to 127.0.0.1 and a port, not connected yet.
	curlSide, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer curlSide.Close()
	port := curlSide.Addr().(*net.TCPAddr).Port
	// The intruder: the same port on 127.0.0.2.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port}, Timeout: time.Second}
	intruder, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2:%d: %v", port, err)
	}
	defer intruder.Close()
	ln.SetDeadline(time.Now().Add(500 * time.Millisecond))
	c, err := curlpoll.AcceptFrom(ln, port)
	if err == nil {
		c.Close()
		t.Fatalf("the relay accepted %v, not libcurl's 127.0.0.1:%d, as libcurl's connection", c.RemoteAddr(), port)
	}
}
