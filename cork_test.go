package curlpoll_test

import (
	"context"
	"io"
	"net"
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

// TestCorkHTTP2Requests: the requests that one libcurl call starts on an
// HTTP/2 connection leave in one TCP segment or two (cork.c), where
// libcurl sends each stream's in a segment of its own; no socket stays corked after the
// call; and HTTP/1.1 transfers, one request per connection at a time, are
// never corked.
func TestCorkHTTP2Requests(t *testing.T) {
	checkLeaks(t)
	const batch = 32
	for _, h2 := range []bool{true, false} {
		name := map[bool]string{true: "h2", false: "http1.1"}[h2]
		t.Run(name, func(t *testing.T) {
			srv, caPEM := tlsServer(t)
			p := newSegmentCountingProxy(t, srv.Listener.Addr().String())
			url := "https://" + p.ln.Addr().String() + "/hello"
			m := newMulti(t)
			must(t, m.SetMultiplex(true))
			setup := func(e *curlpoll.Easy) {
				must(t, e.SetCAInfoBlob(caPEM))
				must(t, e.SetPipeWait(true))
				if h2 {
					must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2TLS))
				} else {
					must(t, e.SetHTTPVersion(curlpoll.HTTPVersion1_1))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// A few transfers one after the other: the driver learns that
			// the connection carries HTTP/2.
			warm := newEasy(t, url)
			setup(warm)
			for i := range 3 {
				if err := m.Do(ctx, warm); err != nil {
					t.Fatalf("transfer %d: %v", i, err)
				}
			}
			easies := make([]*curlpoll.Easy, batch)
			for i := range easies {
				easies[i] = newEasy(t, url)
				setup(easies[i])
			}
			before := p.dataSegments(t)
			release := m.HoldDriver()
			transfers := make([]*curlpoll.Transfer, 0, batch)
			for _, e := range easies {
				tr, err := m.Start(ctx, e)
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
			segments := p.dataSegments(t) - before
			corked, err := m.Corked()
			if err != nil {
				t.Fatal(err)
			}
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
			// segment, and whatever the client sends as the responses
			// come. Uncorked: a segment per request.
			if segments > batch/4 {
				t.Errorf("%d requests started in one call went out in %d segments, want at most %d", batch, segments, batch/4)
			}
		})
	}
}
