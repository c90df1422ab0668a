package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// These tests follow sockets that libcurl 7.88 closes behind the socket
// callback's back: connects it abandons (happy-eyeballs losers, per-address
// and overall connect timeouts, cancels) are closed with a plain close(2),
// and REMOVE comes after the close, or never. The watcher's duplicate must
// still be closed, and no descriptor may outlive the Multi.

// TestHappyEyeballsLoser resolves one name to a blackholed ::1 and a
// listening 127.0.0.1: libcurl races them, IPv4 wins after the
// happy-eyeballs delay, and the IPv6 attempt is abandoned mid-connect.
func TestHappyEyeballsLoser(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback")
	}
	ln.Close()
	blackholeAt(t, "::1", p)
	m := newMulti(t)
	for i := 0; i < 3; i++ {
		e := newEasy(t, fmt.Sprintf("http://he.test:%d/hello", p))
		must(t, e.SetResolve([]string{fmt.Sprintf("he.test:%d:[::1],127.0.0.1", p)}))
		must(t, e.SetFreshConnect(true))
		var b bytes.Buffer
		must(t, e.SetWriter(&b))
		if err := m.Do(context.Background(), e); err != nil || b.String() != "hello" {
			t.Fatalf("Do = %v, body %q", err, b.String())
		}
		if ip, _, _ := e.PrimaryAddr(); ip != "127.0.0.1" {
			t.Fatalf("connected to %s, want the IPv4 address", ip)
		}
	}
	assertNoSockets(t, m)
}

// TestSecondAddressAfterBlackhole gives one name a blackholed first
// address and a listening second one, under a connect timeout. libcurl
// 7.88 gives up on the first after half the timeout; whether the second is
// tried in time is libcurl's business (it may report a timeout), but every
// socket must be let go.
func TestSecondAddressAfterBlackhole(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	blackholeAt(t, "127.0.0.2", p)
	m := newMulti(t)
	for i := 0; i < 2; i++ {
		e := newEasy(t, fmt.Sprintf("http://two.test:%d/hello", p))
		must(t, e.SetResolve([]string{fmt.Sprintf("two.test:%d:127.0.0.2,127.0.0.1", p)}))
		must(t, e.SetConnectTimeout(400*time.Millisecond))
		must(t, e.SetFreshConnect(true))
		err := m.Do(context.Background(), e)
		if err != nil && !errors.Is(err, curlpoll.ErrOperationTimedOut) {
			t.Fatalf("Do = %v, want success or a timeout", err)
		}
		t.Logf("attempt %d: %v", i, err)
	}
	assertNoSockets(t, m)
}

func TestConnectTimeoutBlackhole(t *testing.T) {
	checkFDs(t)
	addr := blackhole(t)
	m := newMulti(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			e.SetURL("http://" + addr + "/")
			e.SetConnectTimeout(200 * time.Millisecond)
			start := time.Now()
			err := m.Do(context.Background(), e)
			if !errors.Is(err, curlpoll.ErrOperationTimedOut) {
				t.Errorf("Do = %v, want a connect timeout", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("connect timeout of 200ms took %v", d)
			}
		}()
	}
	wg.Wait()
	assertNoSockets(t, m)
}

// TestCancelDuringConnectStorm cancels many transfers while their connects
// hang, mixed with transfers that succeed on the same Multi.
func TestCancelDuringConnectStorm(t *testing.T) {
	checkFDs(t)
	addr := blackhole(t)
	srv := testServer(t)
	m := newMulti(t)
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			if i%2 == 0 {
				e.SetURL("http://" + addr + "/")
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*time.Millisecond)
				defer cancel()
				if err := m.Do(ctx, e); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("blackholed: Do = %v, want DeadlineExceeded", err)
				}
				return
			}
			e.SetURL(srv.URL + "/close")
			var b bytes.Buffer
			e.SetWriter(&b)
			if err := m.Do(context.Background(), e); err != nil || b.String() != "bye" {
				t.Errorf("Do = %v, body %q", err, b.String())
			}
		}()
	}
	wg.Wait()
	assertNoSockets(t, m)
}

// assertNoSockets checks that the Multi watches nothing once idle.
func assertNoSockets(t *testing.T, m *curlpoll.Multi) {
	t.Helper()
	s, err := m.Stats()
	must(t, err)
	if s.Sockets != 0 || s.Active != 0 {
		t.Errorf("idle Multi still watches %d sockets with %d transfers attached (%+v)", s.Sockets, s.Active, s)
	}
}

// TestKeepAliveWatcherParked checks that a kept-alive connection keeps its
// watcher from one request to the next (REMOVE parks it), and that the
// close-socket callback, not REMOVE, lets it go.
func TestKeepAliveWatcherParked(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/hello")
	for i := 0; i < 20; i++ {
		var b bytes.Buffer
		must(t, e.SetWriter(&b))
		if err := m.Do(context.Background(), e); err != nil || b.String() != "hello" {
			t.Fatalf("Do = %v, body %q", err, b.String())
		}
	}
	s, err := m.Stats()
	must(t, err)
	if s.WatchersMade != 1 || s.ParkedTotal < 1 || s.Parked != 1 || s.Sockets != 0 {
		t.Fatalf("20 requests on one connection: %+v; want 1 watcher made, parked between requests", s)
	}

	// Connection: close: libcurl closes the socket through close_cb.
	e2 := newEasy(t, srv.URL+"/close")
	must(t, e2.SetFreshConnect(true))
	must(t, e2.SetWriter(io.Discard))
	must(t, m.Do(context.Background(), e2))
	s, err = m.Stats()
	must(t, err)
	if s.CloseCallbacks != 1 || s.Parked != 1 || s.Sockets != 0 {
		t.Fatalf("after a Connection: close request: %+v; want 1 close callback, the first connection still parked", s)
	}
}
