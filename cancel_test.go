package curlpoll_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// cancelBudget is how soon after its context is cancelled a transfer must
// have returned. It is generous: the test must pass on a machine whose
// CPUs are busy with other work (a cancel takes well under a millisecond
// here when they are not, as the test's log shows, and bench/scale measures
// it); what it catches is a cancel that waits for the network or a
// timeout.
const cancelBudget = time.Second

// TestCancelAtEveryPhase starts a transfer, waits until it is in the phase
// under test, cancels its context, and checks that Do returns
// context.Canceled within cancelBudget, and that the server sees the
// connection end where there is one.
func TestCancelAtEveryPhase(t *testing.T) {
	checkFDs(t)
	// Its phases hold transfers that wait for a peer that does not answer,
	// for a second and more on a busy machine: the stall rescue may run
	// them, for nothing (see Multi.Stats).
	allowRescues(t)
	type phase struct {
		name string
		// setup returns the server (nil if none to watch), and prepares e.
		setup func(t *testing.T, e *curlpoll.Easy) (srv *rawServer, reached func(*curlpoll.Multi) bool)
	}
	phases := []phase{
		{"name resolution (DoH)", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			// DoH must be https: the lookup stalls in the DoH server's
			// TLS handshake, which never completes. libcurl opens a DoH
			// connection for A and one for AAAA, or one they share (see
			// dohConnections), and loads the CA bundle for each in the
			// call that connects it (DoH handles do not share the multi's
			// CA cache): cancel once all of them wait.
			asked := make(chan time.Time, 2)
			doh := newRawServer(t, func(c net.Conn) { c.Read(make([]byte, 1)); asked <- time.Now() })
			must(t, e.SetURL("http://resolve-me.test:1/"))
			must(t, e.SetDoHURL(strings.Replace(doh.URL(), "http:", "https:", 1)+"dns-query"))
			return nil, settled(asked, dohConnections())
		}},
		{"connect (blackholed)", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			must(t, e.SetURL("http://"+blackhole(t)+"/"))
			return nil, activeFor(20 * time.Millisecond)
		}},
		{"TLS handshake", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			got := make(chan time.Time, 1)
			srv := newRawServer(t, func(c net.Conn) {
				c.Read(make([]byte, 1)) // the ClientHello arrived; never answer
				got <- time.Now()
			})
			must(t, e.SetURL(strings.Replace(srv.URL(), "http:", "https:", 1)))
			// The CA bundle is loaded in the call that sends the
			// ClientHello (about 20 ms for the first TLS connection of a
			// multi handle), and a cancel waits for the libcurl call in
			// progress: cancel once the handshake waits for the server.
			return srv, settled(got, 1)
		}},
		{"waiting for headers", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			got := make(chan struct{}, 1)
			srv := newRawServer(t, func(c net.Conn) { readRequest(c); got <- struct{}{} })
			must(t, e.SetURL(srv.URL()))
			return srv, func(*curlpoll.Multi) bool { return len(got) > 0 }
		}},
		{"mid-body", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			sent := make(chan struct{}, 1)
			srv := newRawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
				c.Write(pattern[:1000])
				sent <- struct{}{}
			})
			must(t, e.SetURL(srv.URL()))
			return srv, func(*curlpoll.Multi) bool { return len(sent) > 0 }
		}},
		{"paused", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			var written atomic.Int64
			srv := newRawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
				for {
					c.SetWriteDeadline(time.Now().Add(2 * time.Second))
					n, err := c.Write(pattern)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			must(t, e.SetURL(srv.URL()))
			// Nothing reads the body (see run below): once the buffer is
			// full the transfer pauses, and the server's writes stop.
			var last int64
			var since time.Time
			return srv, func(m *curlpoll.Multi) bool {
				if n := written.Load(); n != last {
					last, since = n, time.Now()
					return false
				}
				return last > 1<<20 && time.Since(since) > 50*time.Millisecond
			}
		}},
		{"mid-upload", func(t *testing.T, e *curlpoll.Easy) (*rawServer, func(*curlpoll.Multi) bool) {
			got := make(chan struct{}, 1)
			srv := newRawServer(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				req.Body.Read(make([]byte, 100))
				got <- struct{}{}
			})
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			go pw.Write(pattern[:1000]) // then the body blocks
			must(t, e.SetURL(srv.URL()))
			must(t, e.SetUpload(true))
			must(t, e.SetInFileSize(1<<20))
			must(t, e.SetReader(pr))
			return srv, func(*curlpoll.Multi) bool { return len(got) > 0 }
		}},
	}
	m := newMulti(t)
	for _, p := range phases {
		t.Run(p.name, func(t *testing.T) {
			for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
				e := newEasy(t, "")
				srv, reached := p.setup(t, e)
				ctx, cancel := context.WithCancelCause(context.Background())
				if cause == context.DeadlineExceeded {
					var c2 context.CancelFunc
					ctx, c2 = context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
					defer c2()
					// A real deadline at an unknown moment would race the
					// phase; cancel through a child deadline instead.
					ctx, cancel = withManualDeadline(ctx)
				}
				done := make(chan error, 1)
				var returned time.Time
				go func() {
					var err error
					if p.name == "paused" {
						// Start, and read nothing until the transfer ends.
						var tr *curlpoll.Transfer
						if tr, err = m.Start(ctx, e); err == nil {
							<-tr.Done()
							_, err = tr.Read(make([]byte, 1))
							for err == nil { // the buffered body comes first
								_, err = tr.Read(make([]byte, 64<<10))
							}
							tr.Close()
						}
					} else {
						err = m.Do(ctx, e)
					}
					returned = time.Now()
					done <- err
				}()
				waitFor(t, func() bool { return reached(m) })
				cancelled := time.Now()
				cancel(cause)
				var err error
				select {
				case err = <-done:
				case <-time.After(5 * time.Second):
					t.Fatalf("Do did not return after cancel (%v)", cause)
				}
				took := returned.Sub(cancelled)
				if !errors.Is(err, cause) {
					t.Fatalf("Do = %v, want %v", err, cause)
				}
				t.Logf("%v: returned %v after the cancel", cause, took)
				if took > cancelBudget {
					t.Errorf("Do returned %v after the cancel; want within %v", took, cancelBudget)
				}
				if srv != nil {
					srv.waitPeerClosed(t, time.Second)
				}
			}
		})
	}
	if s, _ := m.Stats(); s.Wanted != 0 || s.Active != 0 {
		t.Errorf("after cancels: %d sockets watched, %d transfers attached", s.Wanted, s.Active)
	}
}

// withManualDeadline returns a context whose cancel makes it report
// context.DeadlineExceeded, as if its deadline had passed at that moment.
func withManualDeadline(parent context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancel(parent)
	d := &deadlineCtx{Context: ctx}
	return d, func(error) { cancel() }
}

type deadlineCtx struct{ context.Context }

func (c *deadlineCtx) Err() error {
	if c.Context.Err() != nil {
		return context.DeadlineExceeded
	}
	return nil
}

// settled reports true once n events came through c and the last is 100 ms
// old: the driver is then waiting, not inside a libcurl call.
func settled(c <-chan time.Time, n int) func(*curlpoll.Multi) bool {
	var last time.Time
	seen := 0
	return func(*curlpoll.Multi) bool {
		for {
			select {
			case last = <-c:
				seen++
				continue
			default:
			}
			return seen >= n && time.Since(last) > 100*time.Millisecond
		}
	}
}

// activeFor reports true once the phase has had d to begin.
func activeFor(d time.Duration) func(*curlpoll.Multi) bool {
	start := time.Now()
	return func(*curlpoll.Multi) bool { return time.Since(start) > d }
}

// TestCancelCause: a transfer whose context ends with a cause
// (WithCancelCause, WithTimeoutCause) ends with that cause, as net/http's
// requests do: Do while it runs, and Do on a context already done.
func TestCancelCause(t *testing.T) {
	cause := errors.New("shutting down")
	srv := newRawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
	if err := m.Do(ctx, e); !errors.Is(err, cause) {
		t.Errorf("cancelled with a cause while running: %v", err)
	}
	if err := m.Do(ctx, e); !errors.Is(err, cause) {
		t.Errorf("on a context already cancelled with a cause: %v", err)
	}
	tctx, tcancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, cause)
	defer tcancel()
	if err := m.Do(tctx, e); !errors.Is(err, cause) {
		t.Errorf("timed out with a cause: %v", err)
	}
}
