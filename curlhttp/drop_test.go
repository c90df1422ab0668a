package curlhttp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportDroppedWithoutClose uses Transports once and drops them, as
// programs do with net/http's, which needs no Close: once they are
// unreachable their Multis, handles, connections and goroutines go too.
func TestTransportDroppedWithoutClose(t *testing.T) {
	testDropped(t, func() *curlhttp.Transport { return &curlhttp.Transport{} })
}

// TestTransportDialContextDroppedWithoutClose is the same with DialContext:
// the relays that carry the dialled connections' bytes
// (curlpoll.Easy.SetDialFunc) live as long as the connections, kept alive
// in the pool, and must not keep the Transport reachable through the dial
// function.
func TestTransportDialContextDroppedWithoutClose(t *testing.T) {
	testDropped(t, func() *curlhttp.Transport {
		return &curlhttp.Transport{DialContext: (&net.Dialer{}).DialContext}
	})
}

// TestTransportConfiguredDroppedWithoutClose is the same for Transports
// whose settings give libcurl functions of Go's to call (Go's TLS
// verification, a client certificate function, a Logger, a trace, the
// timeouts' timers) over HTTPS: none of them may keep a Transport
// reachable from the handles and connections it owns.
func TestTransportConfiguredDroppedWithoutClose(t *testing.T) {
	srv, caPEM := newTLSServer(t, handler())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	pinned := func([][]byte, [][]*x509.Certificate) error { return nil }
	for _, tc := range []struct {
		name string
		tr   func() *curlhttp.Transport
		ctx  func() context.Context
		need func(*testing.T)
	}{
		{name: "RootCAs and VerifyPeerCertificate", tr: func() *curlhttp.Transport {
			return &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, VerifyPeerCertificate: pinned}}
		}},
		{name: "GetClientCertificate", tr: func() *curlhttp.Transport {
			return &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }}}
		}, need: needClientCertFunc},
		{name: "Logger", tr: func() *curlhttp.Transport {
			return &curlhttp.Transport{CAPEM: caPEM, Logger: slog.New(slog.DiscardHandler)}
		}},
		{name: "timeouts", tr: func() *curlhttp.Transport {
			return &curlhttp.Transport{CAPEM: caPEM, TLSHandshakeTimeout: time.Minute,
				ResponseHeaderTimeout: time.Minute, ExpectContinueTimeout: time.Second}
		}},
		{name: "DialContext and TLSHandshakeTimeout", tr: func() *curlhttp.Transport {
			return &curlhttp.Transport{CAPEM: caPEM, DialContext: (&net.Dialer{}).DialContext, TLSHandshakeTimeout: time.Minute}
		}},
		{name: "trace", tr: func() *curlhttp.Transport { return &curlhttp.Transport{CAPEM: caPEM} },
			ctx: func() context.Context {
				return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {}})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.need != nil {
				tc.need(t)
			}
			ctx := context.Background
			if tc.ctx != nil {
				ctx = tc.ctx
			}
			testDroppedAt(t, srv.URL, tc.tr, ctx)
		})
	}
}

// testDropped uses Transports that newTransport makes once each, drops
// them, and waits for their Multis, handles, descriptors and goroutines to
// go.
func testDropped(t *testing.T, newTransport func() *curlhttp.Transport) {
	srv := testServer(t) // before checkLeaks: its goroutines may outlive the test's checks
	testDroppedAt(t, srv.URL, newTransport, context.Background)
}

// testDroppedAt is testDropped against the server at base, with requests
// of ctx's context.
func testDroppedAt(t *testing.T, base string, newTransport func() *curlhttp.Transport, ctx func() context.Context) {
	checkLeaks(t)
	before := curlpoll.LiveCounts()
	fds := openFDs(t)
	// The Transports stay reachable until the check below, so that none is
	// collected before it counts them.
	var kept []*curlhttp.Transport
	use := func() {
		tr := newTransport()
		kept = append(kept, tr)
		c := &http.Client{Transport: tr}
		for range 2 { // a kept-alive connection, reused
			req, err := http.NewRequestWithContext(ctx(), "GET", base+"/hello", nil)
			must(t, err)
			resp, err := c.Do(req)
			must(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	const n = 20
	for range n {
		use()
	}
	if now := curlpoll.LiveCounts(); now.Easies < before.Easies+n {
		t.Fatalf("%d easy handles live after %d Transports, want at least %d more than %d: the test proves nothing",
			now.Easies, n, n, before.Easies)
	}
	runtime.KeepAlive(kept)
	kept = nil // dropped, without Close
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		// At most what was live before: what an earlier test left may go
		// meanwhile too.
		if now := curlpoll.LiveCounts(); now.Easies <= before.Easies && now.Handles <= before.Handles && openFDs(t) <= fds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped Transports still hold %+v (at the start %+v) and %d descriptors (%d)",
				curlpoll.LiveCounts(), before, openFDs(t), fds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTransportIdleConnsPerHost runs 100 requests to one host at once: as
// with net/http's default MaxIdleConnsPerHost, 2 connections stay open for
// reuse, not 100.
func TestTransportIdleConnsPerHost(t *testing.T) {
	const n = 100
	var cc connCounter
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = cc.track
	srv.Start()
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(srv.URL)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	for range n { // all at once: 100 connections
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the requests did not all arrive")
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cc.open.Load() > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if o := cc.open.Load(); o != 2 {
		t.Errorf("%d connections left open after %d concurrent requests, want 2 (MaxIdleConnsPerHost's default)", o, n)
	}
}
