package curlhttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportResponseHeaderTimeoutIsDeadline: net/http's error for
// ResponseHeaderTimeout ("net/http: timeout awaiting response headers")
// is a net.Error whose Timeout is true and for which errors.Is(err,
// context.DeadlineExceeded) holds. go-containerregistry's retry.IsTemporary
// tests the latter to not retry a deadline: it retried the Transport's.
func TestTransportResponseHeaderTimeoutIsDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	std := &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
	defer cp.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", cp}} {
		resp, err := rt.rt.RoundTrip(mustReq("GET", srv.URL, nil))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: status %d, want a timeout", rt.name, resp.StatusCode)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v (%T), want a net.Error whose Timeout is true, and errors.Is(err, context.DeadlineExceeded)", rt.name, err, err)
		}
	}
}
