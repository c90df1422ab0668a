package curlhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportResetIsOpError: a connection the server resets fails the
// request, or the body's read, with net/http's *net.OpError (Op "read",
// the read call's *os.SyscallError inside, whose message ends "read:
// connection reset by peer"), as it fails with net/http. Code looks for
// it so: errors.As for a *net.OpError, or the message, as client-go's
// utilnet.IsProbableEOF does ("connection reset by peer"), which takes a
// watch stream reset for the end of the watch and retries a watch request.
func TestTransportResetIsOpError(t *testing.T) {
	serve := func(resp string) string { return serveReply(t, resp, true) }
	check := func(what, name string, err error) {
		t.Helper()
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) ||
			!strings.Contains(err.Error(), "read: connection reset by peer") || strings.Count(err.Error(), "read tcp") != 1 {
			t.Errorf("%s, %s: err = %v (%T), want a *net.OpError, Op read, with ECONNRESET and net/http's message", name, what, err, err)
		}
	}
	noReply := serve("")
	// With DialContext, the error is the dialled connection's own.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	all := append(transports(t, nil), transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
	})...)
	for i := range all[2:] {
		all[2+i].name += " (DialContext)"
	}
	for _, tc := range all {
		resp, err := tc.rt.RoundTrip(mustReq("GET", noReply, nil))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s, no response: status %d, want an error", tc.name, resp.StatusCode)
			continue
		}
		check("no response", tc.name, err)
	}
	cut := serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	for _, tc := range all {
		resp, err := tc.rt.RoundTrip(mustReq("GET", cut, nil))
		if err != nil {
			t.Errorf("%s, body: %v", tc.name, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello" {
			t.Errorf("%s, body: read %q, want \"hello\"", tc.name, b)
		}
		check("body", tc.name, err)
	}
}

// resetListener hands each accepted connection to conns as well.
type resetListener struct {
	net.Listener
	conns chan net.Conn
}

func (l resetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.conns <- c:
		default:
		}
	}
	return c, err
}

// TestTransportResetUnderTLS: a reset in the middle of a response body
// over TLS fails the body's read, with net/http, with ECONNRESET
// ("read: connection reset by peer"), as in clear text. libcurl 7.88 says
// "Recv failure: Connection reset by peer", but its CURLINFO_OS_ERRNO is
// then EPIPE, from the TLS alert OpenSSL tries to send on the dead
// connection: the error must be the reset, which the receive met.
func TestTransportResetUnderTLS(t *testing.T) {
	conns := make(chan net.Conn, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
		w.(http.Flusher).Flush()
		select { // the reset comes first
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	srv.Listener = resetListener{srv.Listener, conns}
	srv.StartTLS()
	defer srv.Close()
	std := srv.Client().Transport.(*http.Transport)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", &curlhttp.Transport{TLSClientConfig: std.TLSClientConfig}}} {
		resp, err := tc.rt.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var c net.Conn
		select {
		case c = <-conns:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no connection in 10 s", tc.name)
		}
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if cl, ok := tc.rt.(io.Closer); ok {
			cl.Close()
		}
		if string(b) != "hello" || !errors.Is(err, syscall.ECONNRESET) || !strings.Contains(fmt.Sprint(err), "read: connection reset by peer") {
			t.Errorf("%s: read %q, %v; want \"hello\" and a reset (ECONNRESET, \"read: connection reset by peer\")", tc.name, b, err)
		}
	}
}
