package curlpoll_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll"
)

// segmentCountingProxy relays TCP connections from a listener on
// 127.0.0.1 to target, and counts the TCP segments with data that its
// clients send (the kernel's count, TCP_INFO).
type segmentCountingProxy struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []*net.TCPConn
}

// dataSegments returns how many segments with data the proxy's clients
// sent so far.
func (p *segmentCountingProxy) dataSegments(t *testing.T) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.conns {
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		raw.Control(func(fd uintptr) { info, _ = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		if info != nil { // nil: closed
			n += int(info.Data_segs_in)
		}
	}
	return n
}

func newSegmentCountingProxy(t *testing.T, target string) *segmentCountingProxy {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &segmentCountingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp4", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c.(*net.TCPConn))
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				// Not io.Copy(c, s): splice's pooled pipes outlive the test.
				io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{s}, make([]byte, 64<<10))
				c.Close()
				s.Close()
			}()
			go func() {
				defer p.wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := s.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
				s.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// corkedSockets counts the process's TCP sockets that are corked now.
func corkedSockets(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ents {
		fd, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK); err == nil && v != 0 {
			n++
		}
	}
	return n
}

// corkRig is a Multi with multiplexing on (every driver checked for corked
// sockets after each libcurl call until the test ends: checkUncorked),
// and a TLS HTTP/2 server behind
// a segment-counting proxy: /hello answers "hello", /batch too but only
// once the whole batch's requests have come (so that what the client
// sends while responses arrive does not count with the requests), /wait
// answers once release is closed.
type corkRig struct {
	m       *curlpoll.Multi
	p       *segmentCountingProxy
	caPEM   []byte
	base    string
	release chan struct{}
	waiting chan struct{} // a /wait request came

	mu      sync.Mutex
	pending int           // /batch requests still to come
	all     chan struct{} // closed when they have
}

func newCorkRig(t *testing.T) *corkRig {
	checkUncorked(t)
	r := &corkRig{release: make(chan struct{}), waiting: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/batch", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		all := r.all
		if r.pending--; r.pending == 0 {
			close(all)
		}
		r.mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		case <-req.Context().Done():
		}
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/wait", func(w http.ResponseWriter, req *http.Request) {
		select {
		case r.waiting <- struct{}{}:
		default:
		}
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
		io.WriteString(w, "waited")
	})
	srv, caPEM := newTLSServer(t, mux)
	r.p = newSegmentCountingProxy(t, srv.Listener.Addr().String())
	r.caPEM = caPEM
	r.base = "https://" + r.p.ln.Addr().String()
	r.m = newMulti(t)
	must(t, r.m.SetMultiplex(true))
	return r
}

// easy returns an Easy for path over HTTP/2 (HTTP/1.1 if not h2).
func (r *corkRig) easy(t *testing.T, path string, h2 bool) *curlpoll.Easy {
	e := newEasy(t, r.base+path)
	must(t, e.SetCAInfoBlob(r.caPEM))
	must(t, e.SetPipeWait(true))
	if h2 {
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2TLS))
	} else {
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion1_1))
	}
	return e
}

// warm runs a few transfers one after the other, over HTTP/2 if h2: the
// driver learns that the connection carries HTTP/2.
func (r *corkRig) warm(t *testing.T, ctx context.Context, h2 bool) {
	e := r.easy(t, "/hello", h2)
	for i := range 3 {
		if err := r.m.Do(ctx, e); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
}

// batchEasies returns n Easys for /batch.
func (r *corkRig) batchEasies(t *testing.T, n int, h2 bool) []*curlpoll.Easy {
	easies := make([]*curlpoll.Easy, n)
	for i := range easies {
		easies[i] = r.easy(t, "/batch", h2)
	}
	return easies
}

// corked returns how many times the rig's Multi corked a socket.
func (r *corkRig) corked(t *testing.T) uint64 {
	n, err := r.m.Corked()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// batch starts one transfer for each of easies (for /batch) in one turn of
// the driver, so that libcurl starts them in one call, reads them to the
// end and returns how many segments with data the client sent meanwhile.
func (r *corkRig) batch(t *testing.T, ctx context.Context, easies []*curlpoll.Easy) int {
	r.mu.Lock()
	r.pending, r.all = len(easies), make(chan struct{})
	r.mu.Unlock()
	before := r.p.dataSegments(t)
	release := r.m.HoldDriver()
	transfers := make([]*curlpoll.Transfer, 0, len(easies))
	for _, e := range easies {
		tr, err := r.m.Start(ctx, e)
		if err != nil {
			release()
			t.Fatal(err)
		}
		transfers = append(transfers, tr)
	}
	release()
	for i, tr := range transfers {
		body, err := io.ReadAll(tr)
		if err == nil {
			err = tr.Err()
		}
		if err != nil || string(body) != "hello" {
			t.Fatalf("transfer %d of the batch: %q, %v", i, body, err)
		}
		tr.Close()
	}
	return r.p.dataSegments(t) - before
}

// checkUncorked checks, after each libcurl call of every driver until the
// test ends, that no socket is left corked (cork.c uncorks at the end of
// each call).
func checkUncorked(t *testing.T) {
	stop := curlpoll.CheckCorksAfterCalls()
	t.Cleanup(func() {
		calls, corked := stop()
		if calls == 0 {
			t.Error("no libcurl call was checked for corked sockets")
		}
		if corked != 0 {
			t.Errorf("%d sockets found corked after libcurl calls (%d calls)", corked, calls)
		}
	})
}

// TestCorkHTTP2Requests: the requests that one libcurl call starts on an
// HTTP/2 connection leave in one TCP segment or two (cork.c), where
// libcurl sends each stream's in a segment of its own; no socket stays
// corked after a call; and HTTP/1.1 transfers, one request per connection
// at a time, are never corked.
func TestCorkHTTP2Requests(t *testing.T) {
	checkLeaks(t)
	const batch = 32
	for _, h2 := range []bool{true, false} {
		name := map[bool]string{true: "h2", false: "http1.1"}[h2]
		t.Run(name, func(t *testing.T) {
			r := newCorkRig(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r.warm(t, ctx, h2)
			segments := r.batch(t, ctx, r.batchEasies(t, batch, h2))
			corked := r.corked(t)
			if n := corkedSockets(t); n != 0 {
				t.Errorf("%d sockets corked after the transfers", n)
			}
			t.Logf("%d requests started in one call: %d segments with data; %d corks", batch, segments, corked)
			if !h2 {
				if corked != 0 {
					t.Errorf("HTTP/1.1 transfers corked %d sockets, want none", corked)
				}
				return
			}
			if corked == 0 {
				t.Errorf("%d requests started on an HTTP/2 connection in one call corked no socket", batch)
			}
			// Corked: the first request, then the other 31 in one
			// segment. Uncorked: a segment per request.
			if segments > batch/4 {
				t.Errorf("%d requests started in one call went out in %d segments, want at most %d", batch, segments, batch/4)
			}
		})
	}
}

// TestCorkBusyConnection: a connection that has had streams open since
// before the Multi's first HTTP/2 transfer ended, and so never went idle
// (libcurl 8.x announces its socket once, when its interest first changes),
// is corked too.
func TestCorkBusyConnection(t *testing.T) {
	checkLeaks(t)
	r := newCorkRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	long, err := r.m.Start(ctx, r.easy(t, "/wait", true))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	select {
	case <-r.waiting:
	case <-ctx.Done():
		t.Fatal("the long request did not reach the server")
	}
	r.warm(t, ctx, true)
	easies := r.batchEasies(t, 32, true)
	segments := r.batch(t, ctx, easies)
	corked := r.corked(t)
	t.Logf("%d segments, %d corks", segments, corked)
	if corked == 0 || segments > len(easies)/4 {
		t.Errorf("32 requests started in one call on a busy HTTP/2 connection: %d corks, %d segments; want a cork and at most 8 segments", corked, segments)
	}
	close(r.release)
	if body, err := io.ReadAll(long); err != nil || string(body) != "waited" {
		t.Errorf("the long request: %q, %v", body, err)
	}
}

// TestCorkHoldBound: calls into Go that run long inside a libcurl call
// (here each request's pre-request function) send what the call corked
// before them, so that requests libcurl has written do not wait for the
// rest of the call: they leave about as they would without the cork.
func TestCorkHoldBound(t *testing.T) {
	checkLeaks(t)
	r := newCorkRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.warm(t, ctx, true)
	easies := r.batchEasies(t, 16, true)
	for i := range easies {
		must(t, easies[i].SetPrereqFunc(func(*curlpoll.Transfer, curlpoll.ConnInfo) error {
			time.Sleep(2 * time.Millisecond)
			return nil
		}))
	}
	segments := r.batch(t, ctx, easies)
	t.Logf("%d requests, each after a 2 ms pre-request function: %d segments", len(easies), segments)
	// Held to the end of the call they would leave in two.
	if segments < len(easies)/2 {
		t.Errorf("%d requests each after a 2 ms pre-request function left in %d segments, want at least %d: corked requests waited for later callbacks", len(easies), segments, len(easies)/2)
	}
}
