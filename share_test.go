package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// TestMultiSharesTLSSessions checks that a second Easy on the same Multi
// resumes the TLS session of the first one, on a new connection: libcurl
// offers it (its log says so), and the server resumes it. libcurl 7.88
// offers a TLS 1.3 session that it saved before the server's ticket came,
// which the server cannot resume (its log then says "stale"); 8.14 offers
// the ticket. Versions between are not tested.
func TestMultiSharesTLSSessions(t *testing.T) {
	var resumed, full atomic.Int32
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
	}))
	m := newMulti(t)
	var offered atomic.Int32
	for i := range 3 {
		e := newEasy(t, srv.URL)
		must(t, e.SetCAInfoBlob(ca))
		must(t, e.SetFreshConnect(true)) // a new connection: a new handshake
		must(t, e.SetForbidReuse(true))
		must(t, e.SetDebugFunc(func(k curlpoll.DebugKind, b []byte) {
			// 7.88: "SSL re-using session ID"; 8.x: "SSL reusing session ..."
			if s := string(b); k == curlpoll.DebugText && (strings.HasPrefix(s, "SSL re-using session") || strings.HasPrefix(s, "SSL reusing session")) {
				offered.Add(1)
			}
		}))
		must(t, m.Do(context.Background(), e))
		if i == 0 && full.Load() != 1 {
			t.Fatalf("first handshake: %d full, %d resumed", full.Load(), resumed.Load())
		}
	}
	if offered.Load() != 2 {
		t.Errorf("libcurl offered a saved session %d times in the second and third handshakes, want 2", offered.Load())
	}
	if libcurlAtLeast(8, 14) && (full.Load() != 1 || resumed.Load() != 2) {
		t.Errorf("%d full handshakes, %d resumed; want 1 and 2", full.Load(), resumed.Load())
	}
}

// TestShareCookiesAcrossMultis shares a cookie engine between handles on
// two Multis: a cookie one receives, the other sends.
func TestShareCookiesAcrossMultis(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "k", Value: "v42", Path: "/"})
			return
		}
		if c, err := r.Cookie("k"); err == nil {
			io.WriteString(w, c.Value)
		}
	}))
	defer srv.Close()
	sh, err := curlpoll.NewShare(curlpoll.ShareCookies | curlpoll.ShareDNS)
	must(t, err)
	m1, m2 := newMulti(t), newMulti(t)
	a := newEasy(t, srv.URL+"/set")
	must(t, a.SetCookieFile(""))
	must(t, a.SetShare(sh))
	must(t, m1.Do(context.Background(), a))
	b := newEasy(t, srv.URL+"/get")
	must(t, b.SetCookieFile(""))
	must(t, b.SetShare(sh))
	var body bytes.Buffer
	must(t, b.SetWriter(&body))
	must(t, m2.Do(context.Background(), b))
	if body.String() != "v42" {
		t.Errorf("the other handle sent cookie %q, want v42", body.String())
	}
	// In use: Close refuses; once the handles let go, it closes.
	if err := sh.Close(); !errors.Is(err, curlpoll.ErrShareInUse) {
		t.Fatalf("Close with handles using it: %v", err)
	}
	must(t, a.SetShare(nil))
	must(t, b.Reset())
	must(t, sh.Close())
	must(t, sh.Close())
	if err := a.SetShare(sh); !errors.Is(err, curlpoll.ErrClosed) {
		t.Errorf("SetShare(closed) = %v", err)
	}
}

// TestShareConnectionsOutliveMulti: a connection in a Share's pool
// outlives the Multi whose transfer opened it, and closing the Share
// closes it through that Multi's close-socket callback, whose handle is
// gone by then. Nothing may be looked up (a deleted cgo.Handle panicked
// there, through libcurl's frames), and the connection must close.
func TestShareConnectionsOutliveMulti(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			select {
			case closed <- struct{}{}:
			default: // never block the server's connection
			}
		}
	}
	srv.Start()
	defer srv.Close()
	sh, err := curlpoll.NewShare(curlpoll.ShareConnections)
	must(t, err)
	m, err := curlpoll.NewMulti()
	must(t, err)
	e, err := curlpoll.NewEasy()
	must(t, err)
	must(t, e.SetURL(srv.URL))
	must(t, e.SetShare(sh))
	must(t, m.Do(context.Background(), e))
	must(t, m.Close())
	must(t, e.Close())
	select {
	case <-closed:
		t.Fatal("the connection closed before the Share did: it was not kept in the Share's pool")
	default:
	}
	must(t, sh.Close())
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was still open 10 s after the Share closed")
	}
}

// okServerCountingConns starts a server that answers "ok", closed when the
// test ends, with the count of the connections it accepted.
func okServerCountingConns(t *testing.T) (*httptest.Server, *atomic.Int32) {
	conns := new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

// TestShareConnectionClosedElsewhere: a connection that one Multi's
// transfer opened waits in a Share's pool, and a transfer of another Multi
// finds it too old and closes it, on its own driver, with no event on the
// first Multi's set: the first Multi is told nothing (close_cb tells the
// Multi driving), and must not go on counting the socket as its own
// (curlpoll_numgens), nor trust what it knew of the number, which the
// second Multi's new connection likely takes.
func TestShareConnectionClosedElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a second for a connection to age")
	}
	srv, conns := okServerCountingConns(t)
	sh, err := curlpoll.NewShare(curlpoll.ShareConnections)
	must(t, err)
	m1, m2 := newMulti(t), newMulti(t)
	a := newEasy(t, srv.URL)
	must(t, a.SetShare(sh))
	must(t, m1.Do(context.Background(), a))
	if s1, _ := m1.Stats(); s1.Sockets != 1 {
		t.Fatalf("the first Multi counts %d sockets with its connection kept, want 1", s1.Sockets)
	}
	// libcurl counts idle time in whole seconds: with CURLOPT_MAXAGE_CONN
	// 0 a connection idle for a second is too old.
	time.Sleep(1100 * time.Millisecond)
	b := newEasy(t, srv.URL)
	must(t, b.SetShare(sh))
	maxAge, err := curlpoll.OptionByName("CURLOPT_MAXAGE_CONN")
	must(t, err)
	must(t, b.SetOptionLong(maxAge, 0))
	must(t, m2.Do(context.Background(), b))
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: the second transfer did not find the first connection too old", n)
	}
	s1, _ := m1.Stats()
	s2, _ := m2.Stats()
	if s1.CloseCallbacks != 0 || s2.CloseCallbacks != 1 {
		t.Fatalf("close callbacks: %d on the Multi that opened the connection, %d on the one that found it too old; want 0 and 1",
			s1.CloseCallbacks, s2.CloseCallbacks)
	}
	if s1.Sockets != 0 || s2.Sockets != 1 {
		t.Errorf("sockets: %d on the first Multi, %d on the second, which keeps its new connection; want 0 and 1",
			s1.Sockets, s2.Sockets)
	}
	// The first Multi's next transfer takes the second's connection from
	// the pool.
	must(t, m1.Do(context.Background(), a))
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after the first Multi's second transfer, want 2", n)
	}
	must(t, a.SetShare(nil))
	must(t, b.SetShare(nil))
	must(t, sh.Close())
}

// TestShareConnectionsAcrossMultis: a connection in a Share's pool, opened
// by a transfer on one Multi and closed by a transfer on another (which
// forbids its reuse), is closed on the second Multi's driver: the close
// goes to that Multi, not to the first, whose state only its own driver
// may touch (the race detector saw the first Multi's socket table written
// from the second's driver).
func TestShareConnectionsAcrossMultis(t *testing.T) {
	srv, conns := okServerCountingConns(t)
	sh, err := curlpoll.NewShare(curlpoll.ShareConnections)
	must(t, err)
	m1, m2 := newMulti(t), newMulti(t)
	a := newEasy(t, srv.URL)
	must(t, a.SetShare(sh))
	must(t, m1.Do(context.Background(), a))
	b := newEasy(t, srv.URL)
	must(t, b.SetShare(sh))
	must(t, b.SetForbidReuse(true))
	must(t, m2.Do(context.Background(), b))
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests through one Share, want 1", n)
	}
	s1, _ := m1.Stats()
	s2, _ := m2.Stats()
	if s1.CloseCallbacks != 0 || s2.CloseCallbacks != 1 {
		t.Errorf("close callbacks: %d on the Multi that opened the connection, %d on the one that closed it; want 0 and 1",
			s1.CloseCallbacks, s2.CloseCallbacks)
	}
	must(t, a.SetShare(nil))
	must(t, b.SetShare(nil))
	must(t, sh.Close())
}
