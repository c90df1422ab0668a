package curlhttp_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// testDropped uses Transports that newTransport makes once each, drops
// them, and waits for their Multis, handles, descriptors and goroutines to
// go.
func testDropped(t *testing.T, newTransport func() *curlhttp.Transport) {
	srv := testServer(t) // before checkLeaks: its goroutines may outlive the test's checks
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
			resp, err := c.Get(srv.URL + "/hello")
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
		if curlpoll.LiveCounts() == before && openFDs(t) <= fds {
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
