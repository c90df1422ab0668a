package curlhttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// silentListener accepts TCP connections and never answers on them.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestTransportTLSHandshakeTimeoutIsNotDeadline: net/http's
// TLSHandshakeTimeout error (tlsHandshakeTimeoutError) is a net.Error
// whose Timeout is true, but not context.DeadlineExceeded for errors.Is,
// unlike its ResponseHeaderTimeout's. Code that retries a timeout but not
// a deadline (go-containerregistry's retry.IsTemporary) retries net/http's
// handshake timeout: it must retry the Transport's too.
func TestTransportTLSHandshakeTimeoutIsNotDeadline(t *testing.T) {
	target := silentListener(t)
	for _, dialCtx := range []bool{false, true} {
		for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			std.TLSHandshakeTimeout, cp.TLSHandshakeTimeout = 200*time.Millisecond, 200*time.Millisecond
			if dialCtx {
				dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, target)
				}
				std.DialContext, cp.DialContext = dial, dial
			}
		}) {
			_, err := tc.rt.RoundTrip(mustReq("GET", "https://"+target+"/", nil))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%s (DialContext %v): %v, want a timeout", tc.name, dialCtx, err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s (DialContext %v): %v (%T): errors.Is(err, context.DeadlineExceeded) holds; net/http's TLS handshake timeout is not a deadline", tc.name, dialCtx, err, err)
			}
		}
	}
}
