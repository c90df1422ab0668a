package curlpoll_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// A goroutine in Do waits for its own socket: the read waits of sequential
// keep-alive requests are lent to it, and no watcher goroutine waits for
// them.
func TestDoWaitsForItsOwnSocket(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/bytes?n=100")
	const n = 200
	for range n {
		var body bytes.Buffer
		e.SetWriter(&body)
		must(t, m.Do(context.Background(), e))
		if body.Len() != 100 {
			t.Fatalf("body: %d bytes, want 100", body.Len())
		}
	}
	st, err := m.Stats()
	must(t, err)
	// The first request's connect may wait on a watcher goroutine (for
	// writing, or before its consumer waits); the rest reuse the
	// connection. A response that is in when libcurl asks to read is
	// found by the probe without any wait (most of them, on a slow run
	// such as with cgocheck2), the others are waited for by Do's
	// goroutine. With lending off, about half wait on the watcher.
	if st.Lent == 0 || st.WatcherWaits > 5 {
		t.Errorf("%d read waits lent to the caller of Do, %d on watcher goroutines; want most lent, at most 5 on watchers", st.Lent, st.WatcherWaits)
	}
}

// A consumer that waits for a lent socket is interrupted when its transfer
// ends another way (here: cancelled), and the socket goes back to the
// driver, which still watches it for the other transfers.
func TestLentSocketWaitInterrupted(t *testing.T) {
	checkFDs(t)
	got := make(chan net.Conn, 1)
	srv := newRawServer(t, func(c net.Conn) {
		readRequest(c)
		got <- c // and never answer
	})
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Do(ctx, e) }()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never arrived")
	}
	cancelWhileLent(t, m, cancel, errc)
	srv.waitPeerClosed(t, time.Second)

	// The Multi still works, on a new connection.
	ok := testServer(t)
	e2 := newEasy(t, ok.URL+"/bytes?n=10")
	must(t, m.Do(context.Background(), e2))
}

// The same on an HTTP/2 connection, which outlives the cancelled stream:
// nothing more arrives on the socket, so only the interrupt ends the wait.
func TestLentSocketWaitInterruptedHTTP2(t *testing.T) {
	checkFDs(t)
	asked := make(chan struct{}, 1)
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			asked <- struct{}{}
			<-r.Context().Done() // no header block until the stream is reset
		}
	}))
	m := newMulti(t)
	must(t, m.SetMultiplex(true))
	// The transfer is the connection's first: a later stream could find
	// the socket with the watcher goroutine, which serves the connection
	// once libcurl keeps it wanted between streams.
	e := newEasy(t, srv.URL+"/wait")
	must(t, e.SetCAInfoBlob(ca))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Do(ctx, e) }()
	select {
	case <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never arrived")
	}
	cancelWhileLent(t, m, cancel, errc)
	next := newEasy(t, srv.URL+"/")
	must(t, next.SetCAInfoBlob(ca))
	must(t, m.Do(context.Background(), next)) // the connection still works
	if n, _ := next.NumConnects(); n != 0 {
		t.Errorf("%d new connections for the last request, want it to reuse the first", n)
	}
}

// A multiplexed HTTP/2 connection is not lent: its readiness is news for
// many transfers, and a watcher goroutine serves them all.
func TestSharedSocketNotLent(t *testing.T) {
	checkFDs(t)
	srv, ca := tlsServer(t)
	m := newMulti(t)
	must(t, m.SetMultiplex(true))
	first := newEasy(t, srv.URL+"/hello")
	must(t, first.SetCAInfoBlob(ca))
	must(t, m.Do(context.Background(), first))
	const streams, rounds = 20, 10
	var wg sync.WaitGroup
	for range streams {
		e := newEasy(t, srv.URL+"/bytes?n=1000")
		must(t, e.SetCAInfoBlob(ca))
		must(t, e.SetPipeWait(true))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := m.Do(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := m.Stats()
	must(t, err)
	if n, _ := first.NumConnects(); n != 1 || st.WatchersMade != 1 {
		t.Fatalf("%d connects for the first request, %d watchers; want one connection for all", n, st.WatchersMade)
	}
	// Until a second stream shows the connection is shared, the waits
	// may be lent to the first stream's consumer, for its lifetime only.
	if st.WatcherWaits < st.Lent {
		t.Errorf("%d waits lent, %d on the watcher goroutine; want the shared connection's waits on the watcher", st.Lent, st.WatcherWaits)
	}
}

// cancelWhileLent waits until a socket has been lent to the goroutine in
// Do (whose error errc will carry), cancels it, and checks that Do returns
// context.Canceled promptly.
func cancelWhileLent(t *testing.T, m *curlpoll.Multi, cancel func(), errc <-chan error) {
	t.Helper()
	// The server may see the request before the libcurl call that sent it
	// has returned and the socket is lent.
	waitFor(t, func() bool {
		st, err := m.Stats()
		must(t, err)
		return st.Lent > 0
	})
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("Do: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Do returned %v after the cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return after the cancel: its wait for the socket was not interrupted")
	}
}
