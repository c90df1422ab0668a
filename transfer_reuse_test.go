package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// TestStaleTransferCannotTouchNext checks that a Transfer kept after its
// Close, whose Easy then runs another transfer (the Easy's transfer state
// is reused), can read, write out, stop or resume nothing of the next one:
// its methods return an error wrapping ErrClosed or its own results, from
// goroutines running while the next transfer runs, and its context's
// cancellation does not reach the next transfer.
func TestStaleTransferCannotTouchNext(t *testing.T) {
	const size = 1 << 20 // past the high-water mark: the next transfer pauses
	release := make(chan struct{})
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall": // a header block, then nothing until the client goes
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/a", "/b":
			fill := r.URL.Path[1:]
			w.Header().Set("X-Body", fill)
			w.Write(bytes.Repeat([]byte(fill), size/2))
			w.(http.Flusher).Flush()
			if fill == "b" {
				select { // hold the rest while the stale handle tries its worst
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			w.Write(bytes.Repeat([]byte(fill), size/2))
		}
	}))
	m := newMulti(t)

	for round := range 3 {
		e := newEasy(t, srv.URL+"/stall")

		// The first transfer: a consumer blocked in Read while another
		// goroutine closes it.
		ctx1, cancel1 := context.WithCancel(context.Background())
		t1, err := m.Start(ctx1, e)
		must(t, err)
		if _, err := t1.Header(); err != nil {
			t.Fatal(err)
		}
		readErr := make(chan error, 1)
		go func() {
			_, err := t1.Read(make([]byte, 10))
			readErr <- err
		}()
		time.Sleep(20 * time.Millisecond)
		must(t, t1.Close())
		if err := <-readErr; err == nil {
			t.Fatal("Read of a closed transfer returned nil")
		}
		err1 := t1.Err()
		if err1 == nil {
			t.Fatal("a transfer closed while running has no error")
		}

		// The next transfer on the same Easy, alternately by Start and Do.
		must(t, e.SetURL(srv.URL+"/b"))
		var body bytes.Buffer
		var t2 *curlpoll.Transfer
		doErr := make(chan error, 1)
		if round%2 == 0 {
			t2, err = m.Start(context.Background(), e)
			must(t, err)
			if t2 == t1 {
				t.Fatal("Start returned the closed transfer's handle again")
			}
		} else {
			must(t, e.SetWriter(&body))
			go func() { doErr <- m.Do(context.Background(), e) }()
		}

		// The stale handle, from several goroutines, while the next
		// transfer runs with half of its body held back by the server.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 50 {
					if n, err := t1.Read(make([]byte, 4096)); n != 0 || !errors.Is(err, curlpoll.ErrClosed) {
						t.Errorf("stale Read: %d, %v; want 0 and ErrClosed", n, err)
					}
					var w bytes.Buffer
					if n, err := t1.WriteTo(&w); n != 0 || w.Len() != 0 || !errors.Is(err, curlpoll.ErrClosed) {
						t.Errorf("stale WriteTo: %d, %v; want 0 and ErrClosed", n, err)
					}
					if h, err := t1.Header(); h != nil || !errors.Is(err, curlpoll.ErrClosed) {
						t.Errorf("stale Header: %q, %v; want nil and ErrClosed", h, err)
					}
					if tr := t1.Trailer(); tr != nil { // its own: none
						t.Errorf("stale Trailer: %q", tr)
					}
					if err := t1.Err(); err != err1 {
						t.Errorf("stale Err: %v; want its own %v", err, err1)
					}
					select {
					case <-t1.Done():
					default:
						t.Error("stale Done not closed")
					}
					if _, ok := t1.Info(); !ok {
						t.Error("stale Info not known")
					}
					if err := t1.Close(); err != nil {
						t.Errorf("stale Close: %v", err)
					}
				}
			})
		}
		cancel1() // the first transfer's context: its AfterFunc is stopped
		wg.Wait()
		time.Sleep(20 * time.Millisecond) // let a wrongly posted cancel arrive
		if t2 != nil {
			select {
			case <-t2.Done():
				t.Fatalf("the next transfer ended while held back: %v", t2.Err())
			default:
			}
		} else {
			select {
			case err := <-doErr:
				t.Fatalf("Do ended while held back: %v", err)
			default:
			}
		}
		release <- struct{}{}
		if t2 != nil {
			h, err := t2.Header()
			must(t, err)
			if !strings.Contains(strings.Join(h, "\n"), "X-Body: b") {
				t.Errorf("next transfer's header: %q", h)
			}
			_, err = io.Copy(&body, t2)
			must(t, err)
			must(t, t2.Close())
		} else {
			must(t, <-doErr)
		}
		if body.Len() != size || bytes.Count(body.Bytes(), []byte("b")) != size {
			t.Fatalf("round %d: next transfer's body: %d bytes, %d of them 'b'; want %d", round, body.Len(), bytes.Count(body.Bytes(), []byte("b")), size)
		}
		if err := t1.Close(); err != nil {
			t.Fatal(err)
		}
		must(t, e.Close())
	}
}

// driverGoroutines counts the goroutines running a Multi's driver.
func driverGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "curlpoll.(*Multi).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitDrivers waits until n driver goroutines run, and fails after 10 s.
func waitDrivers(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for driverGoroutines() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d driver goroutines, want %d", what, driverGoroutines(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleMultiHoldsNoGoroutine checks that a Multi's driver goroutine
// ends when the Multi is idle (no transfer, no message, no timeout of
// libcurl's) and starts again with the next request, over a kept-alive
// connection, and that Close of an idle Multi still shuts it down.
func TestIdleMultiHoldsNoGoroutine(t *testing.T) {
	srv := testServer(t)
	base := driverGoroutines()
	m := newMulti(t)
	waitDrivers(t, base, "a new Multi")
	e := newEasy(t, srv.URL+"/hello")
	for i := range 3 {
		must(t, m.Do(context.Background(), e))
		waitDrivers(t, base, fmt.Sprintf("after request %d", i))
	}
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	_, err = io.Copy(io.Discard, tr)
	must(t, err)
	must(t, tr.Close())
	waitDrivers(t, base, "after Start")
	s, err := m.Stats() // a message: a driver runs for it, then ends
	must(t, err)
	if s.Exits < 4 || s.Completed != 4 {
		t.Errorf("%d driver exits and %d transfers; want at least 4 and 4", s.Exits, s.Completed)
	}
	waitDrivers(t, base, "after Stats")
	must(t, m.Close())
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	waitDrivers(t, base, "after Close")
}

// TestTransferChannels: Done and HeaderReady are made only when asked for,
// before or after the event they wait for, and close as documented:
// HeaderReady when the header block is complete or the transfer has ended
// without one, Done at the end; a stale handle's stay closed while its Easy
// runs the next transfer, and its Info stays its own.
func TestTransferChannels(t *testing.T) {
	gate := make(chan struct{})
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			<-gate
		}
		io.WriteString(w, "body")
	}))
	// A server that closes each connection at once, sending nothing.
	empty := newRawServer(t, func(c net.Conn) { c.Close() })
	m := newMulti(t)
	closedWithin := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		case <-time.After(10 * time.Second):
			return false
		}
	}
	isClosed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}

	// No response at all: HeaderReady closes at the end.
	e := newEasy(t, empty.URL())
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	if !closedWithin(tr.HeaderReady()) || !closedWithin(tr.Done()) {
		t.Fatal("HeaderReady or Done of a transfer that got no response did not close")
	}
	if _, err := tr.Header(); err == nil {
		t.Error("Header of a transfer that got no response returned no error")
	}
	must(t, tr.Close())

	// Channels asked for before the header comes.
	must(t, e.SetURL(srv.URL+"/late"))
	tr, err = m.Start(context.Background(), e)
	must(t, err)
	hdr, done := tr.HeaderReady(), tr.Done()
	time.Sleep(20 * time.Millisecond)
	if isClosed(hdr) || isClosed(done) {
		t.Fatal("HeaderReady or Done closed before the server answered")
	}
	if _, ok := tr.Info(); ok {
		t.Error("Info of a running transfer reported ok")
	}
	close(gate)
	if !closedWithin(hdr) {
		t.Fatal("HeaderReady did not close")
	}
	if b, err := io.ReadAll(tr); err != nil || string(b) != "body" {
		t.Fatalf("body %q, %v", b, err)
	}
	if !closedWithin(done) || !isClosed(tr.Done()) || !isClosed(tr.HeaderReady()) {
		t.Fatal("Done did not close at the end, or a channel asked for afterwards is open")
	}
	first, ok := tr.Info()
	if !ok || !first.RemoteAddr.IsValid() {
		t.Fatalf("Info after the end: %+v, %v", first, ok)
	}
	must(t, tr.Close())

	// The stale handle while the Easy runs the next transfer.
	gate2 := make(chan struct{})
	defer close(gate2)
	srv2 := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate2
	}))
	must(t, e.SetURL(srv2.URL+"/"))
	next, err := m.Start(context.Background(), e)
	must(t, err)
	defer next.Close()
	time.Sleep(20 * time.Millisecond)
	if !isClosed(tr.Done()) || !isClosed(tr.HeaderReady()) {
		t.Error("a stale handle's channels are open while the next transfer runs")
	}
	if isClosed(next.Done()) || isClosed(next.HeaderReady()) {
		t.Error("the next transfer's channels are closed while it waits for its server")
	}
	if info, ok := tr.Info(); !ok || info != first {
		t.Errorf("the stale handle's Info changed: %+v, %v; was %+v", info, ok, first)
	}
}
