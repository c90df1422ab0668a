package curlpoll_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// The header callback collects lines in C and passes them to Go a block at
// a time (shim.c). These tests check that nothing is lost, reordered or
// carried over on the way.

// lineRecorder is a header function that keeps every line it is given.
type lineRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *lineRecorder) record(line []byte) error {
	r.mu.Lock()
	r.lines = append(r.lines, string(line))
	r.mu.Unlock()
	return nil
}

func (r *lineRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines = nil
	return l
}

// TestLongHeaderBlock: a header block of many lines, more bytes than the C
// side collects at once, with a line longer than that on its own, sent a
// few lines per write with pauses between (the spin guard must count the
// collected lines as progress), then a chunked body and trailers.
func TestLongHeaderBlock(t *testing.T) {
	var want []string // the header block's lines, with their line endings
	want = append(want, "HTTP/1.1 200 OK\r\n")
	for i := range 400 {
		want = append(want, fmt.Sprintf("X-Line-%03d: %s\r\n", i, strings.Repeat("v", 90)))
		if i == 200 {
			want = append(want, "X-Big: "+strings.Repeat("b", 20<<10)+"\r\n")
		}
	}
	want = append(want, "Transfer-Encoding: chunked\r\n", "\r\n")
	trailers := []string{"X-T1: a\r\n", "X-T2: b\r\n"}
	srv := newRawServer(t, func(c net.Conn) {
		readRequest(c)
		for i, l := range want {
			io.WriteString(c, l)
			if i%4 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		io.WriteString(c, "5\r\nhello\r\n0\r\n"+strings.Join(trailers, "")+"\r\n")
	})
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	var rec lineRecorder
	must(t, e.SetHeaderFunc(rec.record))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	h, err := tr.Header()
	must(t, err)
	var trimmed []string
	for _, l := range want[:len(want)-1] {
		trimmed = append(trimmed, strings.TrimRight(l, "\r\n"))
	}
	if !slices.Equal(h, trimmed) {
		t.Errorf("Header() has %d lines, want %d", len(h), len(trimmed))
	}
	if block, err := tr.HeaderBlock(); err != nil || block != strings.Join(trimmed, "\n")+"\n" {
		t.Errorf("HeaderBlock() is not Header()'s lines each ended by a newline: %.80q, %v", block, err)
	}
	body, err := io.ReadAll(tr)
	if err != nil || string(body) != "hello" {
		t.Fatalf("body %q, %v", body, err)
	}
	if tl := tr.Trailer(); !slices.Equal(tl, []string{"X-T1: a", "X-T2: b"}) {
		t.Errorf("Trailer() = %q", tl)
	}
	tr.Close()
	must(t, tr.Err())
	// libcurl 7.88 passes a chunked body's trailers with no blank line
	// after them: they reach Go as the transfer ends, before Read's io.EOF.
	got := rec.take()
	if !slices.Equal(got, append(want, trailers...)) {
		t.Errorf("the header function saw %d lines, want %d in order", len(got), len(want)+len(trailers))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("line %d: %.40q, want %.40q", i, got[i], want[i])
			}
		}
	}
}

// TestHeaderLinesNotCarriedOver: a transfer that fails in the middle of a
// header block leaves nothing behind for the next transfer on its Easy,
// reused as it is or after Reset; its header function still sees the lines
// that arrived.
func TestHeaderLinesNotCarriedOver(t *testing.T) {
	cut := newRawServer(t, func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Partial: 1\r\n")
	})
	good := testServer(t)
	m := newMulti(t)
	e := newEasy(t, cut.URL())
	var rec lineRecorder
	must(t, e.SetHeaderFunc(rec.record))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := m.Do(ctx, e); err != context.DeadlineExceeded {
		t.Fatalf("a header block cut off: %v, want the context's error", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"HTTP/1.1 200 OK\r\n", "X-Partial: 1\r\n"}) {
		t.Errorf("header function of the cut transfer saw %q", got)
	}
	check := func(name string) {
		t.Helper()
		tr, err := m.Start(context.Background(), e)
		must(t, err)
		h, err := tr.Header()
		must(t, err)
		io.Copy(io.Discard, tr)
		tr.Close()
		must(t, tr.Err())
		if len(h) == 0 || !strings.HasPrefix(h[0], "HTTP/1.1 200") || slices.Contains(h, "X-Partial: 1") {
			t.Errorf("%s: header %q", name, h)
		}
		for _, l := range rec.take() {
			if strings.HasPrefix(l, "X-Partial") {
				t.Errorf("%s: the header function saw %q", name, l)
			}
		}
	}
	must(t, e.SetURL(good.URL+"/hello"))
	check("reused")
	must(t, e.Reset())
	must(t, e.SetURL(good.URL+"/hello"))
	must(t, e.SetHeaderFunc(rec.record))
	check("after Reset")
}

// TestHTTP2Trailers: HTTP/2 trailers come in a HEADERS frame after the
// body, with no blank line after them.
func TestHTTP2Trailers(t *testing.T) {
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-One, X-Two")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush() // no Content-Length: the trailers are sent
		w.Header().Set("X-One", "1")
		w.Header().Set("X-Two", "2")
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetCAInfoBlob(ca))
	must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2TLS))
	var rec lineRecorder
	must(t, e.SetHeaderFunc(rec.record))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	h, err := tr.Header()
	must(t, err)
	if !strings.HasPrefix(h[0], "HTTP/2 200") {
		t.Fatalf("status line %q", h[0])
	}
	body, err := io.ReadAll(tr)
	if err != nil || string(body) != "body" {
		t.Fatalf("body %q, %v", body, err)
	}
	tr.Close()
	tl := tr.Trailer()
	slices.Sort(tl)
	if !slices.Equal(tl, []string{"x-one: 1", "x-two: 2"}) {
		t.Errorf("Trailer() = %q", tl)
	}
	got := rec.take()
	if n := len(got); n < 2 || !strings.EqualFold(strings.Join(slices.Sorted(slices.Values(got[n-2:])), ""), "x-one: 1\r\nx-two: 2\r\n") {
		t.Errorf("the header function's last lines: %q", got)
	}
}

// TestHeaderBlockSwitchingProtocols: a 101 response's header block is
// final (what follows is another protocol's), and HeaderBlock returns it
// at once, though the server then waits for the client: the consumer was
// woken only by later bytes or the transfer's end.
func TestHeaderBlockSwitchingProtocols(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		c.Read(make([]byte, 1)) // until the client speaks or goes
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetHTTPHeader([]string{"Connection: Upgrade", "Upgrade: x"}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := m.Start(ctx, e)
	must(t, err)
	block, err := tr.HeaderBlock()
	if err != nil || !strings.HasPrefix(block, "HTTP/1.1 101 ") || !strings.Contains(block, "Upgrade: x\n") {
		t.Errorf("HeaderBlock: %q, %v; want the 101's block", block, err)
	}
	tr.Abort(nil)
	tr.Close()
}

// TestHeaderBlockH2CUpgrade: with HTTPVersion2 on an http:// URL libcurl
// asks to upgrade to h2c itself, and the 101 is interim: HeaderBlock is the
// HTTP/2 response's block, and its lines are no trailer (a 101 was taken for
// the final response).
func TestHeaderBlockH2CUpgrade(t *testing.T) {
	srv := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // the 101 reaches the client first
		io.WriteString(w, "body")
	}), &http2.Server{}))
	defer srv.Close()
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := m.Start(ctx, e)
	must(t, err)
	defer tr.Close()
	block, err := tr.HeaderBlock()
	b, _ := io.ReadAll(tr)
	if err != nil || !strings.HasPrefix(block, "HTTP/2 200") || string(b) != "body" {
		t.Errorf("HeaderBlock = %q, %v, body %q; want the HTTP/2 200 block and body", block, err, b)
	}
	if tl := tr.Trailer(); len(tl) > 0 {
		t.Errorf("Trailer() = %q: the HTTP/2 response's header lines taken for trailers", tl)
	}
}

// TestHeaderBlockH2CUpgradeOverTLS: a 101 with "Upgrade: h2c" to a request
// that asked for it itself, over https with HTTPVersion2 (libcurl upgrades
// only without TLS, and takes such a 101 for final), is the final block,
// as with HTTPVersion1_1: it was taken for libcurl's own upgrade, and
// HeaderBlock waited until the server gave up.
func TestHeaderBlockH2CUpgradeOverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		c.Read(make([]byte, 1)) // until the client speaks or goes
	}))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	defer srv.Close()
	for _, v := range []curlpoll.HTTPVersion{curlpoll.HTTPVersion1_1, curlpoll.HTTPVersion2} {
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		must(t, e.SetVerifyPeer(false))
		must(t, e.SetHTTPVersion(v))
		must(t, e.SetHTTPHeader([]string{"Connection: Upgrade", "Upgrade: h2c"}))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		tr, err := m.Start(ctx, e)
		must(t, err)
		block, err := tr.HeaderBlock()
		if err != nil || !strings.HasPrefix(block, "HTTP/1.1 101") {
			t.Errorf("HTTP version %d: HeaderBlock %q, %v; want the 101's", v, block, err)
		}
		tr.Abort(nil)
		tr.Close()
		cancel()
	}
}
