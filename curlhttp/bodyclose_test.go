package curlhttp_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// slowReadBody is a request body whose Reads take a while; it counts the
// Reads that return after its Close was called.
type slowReadBody struct {
	mu       sync.Mutex
	read     int
	closed   bool
	late     int // Reads that returned after Close
	closedCh chan struct{}
}

func (b *slowReadBody) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	n := min(len(p), 1024)
	clear(p[:n])
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.late++
	}
	b.read += n
	return n, nil
}

func (b *slowReadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.closedCh)
	}
	return nil
}

// TestTransportRequestBodyClosedAfterLastRead: a server answers before
// it has the request body, and the response is read and closed while the
// body is still being read. The Transport closed the body at once, while
// the goroutine that reads it for libcurl was in a Read that then
// returned: the body was read after its Close. http.RoundTripper's
// contract is that a caller may reuse the body once Close is called
// (net/http closes it after its last Read); otelhttp counts the bytes
// sent when the body is closed, and reported fewer than were read.
func TestTransportRequestBodyClosedAfterLastRead(t *testing.T) {
	ln := serveEach(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 4096)
		c.Read(buf) // the header block, and maybe some of the body
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		io.Copy(io.Discard, c)
	})
	tr := &curlhttp.Transport{}
	defer tr.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", &http.Transport{}}, {"curlpoll", tr}} {
		body := &slowReadBody{closedCh: make(chan struct{})}
		req := mustReq("POST", "http://"+ln.Addr().String(), nil)
		req.Body, req.ContentLength = body, 1<<20
		resp, err := rt.rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", rt.name, err)
		}
		io.ReadAll(resp.Body)
		time.Sleep(100 * time.Millisecond) // the body is still being read
		resp.Body.Close()
		select {
		case <-body.closedCh:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the request body was not closed", rt.name)
		}
		time.Sleep(100 * time.Millisecond) // for a Read that was under way
		body.mu.Lock()
		if body.late != 0 {
			t.Errorf("%s: %d Reads of the request body returned after its Close (%d bytes read)", rt.name, body.late, body.read)
		}
		body.mu.Unlock()
	}
}

// TestTransportNoGoroutinePerBodySent: a request whose body was read to
// its end before the response came (most requests with a body) costs no
// goroutine while its response is open: closeBodiesAtEnd waits on the
// transfer's end only for a body that may still be read (a pipe), which
// 773c18f did for every request with a body (a goroutine and an
// allocation per POST, BenchmarkTransportPost 49 -> 50 allocs/op).
func TestTransportNoGoroutinePerBodySent(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	// Its last bytes come with io.EOF: read to its end before they are
	// sent, whatever the scheduler does (the core reads request bodies on
	// a goroutine of the transfer's, whose Read that would return the EOF
	// alone may come after the response on a busy machine).
	body := &closeCounter{Reader: iotest.DataErrReader(strings.NewReader("request body"))}
	req := mustReq("POST", srv.URL, body)
	req.ContentLength = int64(len("request body"))
	resp, err := tr.RoundTrip(req)
	must(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	must(t, err)
	stacks := make([]byte, 1<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	if bytes.Contains(stacks, []byte("closeBodiesAtEnd")) {
		t.Errorf("a goroutine waits to close a request body read to its end:\n%s", stacks)
	}
	if n := body.n.Load(); n != 1 {
		t.Errorf("the request body, read to its end, was closed %d times before the response body was, want 1 (as net/http)", n)
	}
}

// TestTransportCloseDoesNotWaitForBodyRead: closing the response body of
// a request whose body is an idle pipe (a streaming client that writes
// when it has something to say) must not wait for the pipe's Read:
// net/http's Body.Close returns at once (its HTTP/1 client leaves the
// Read to its write loop, its HTTP/2 client closes the body at once). The
// Transport's waited 50 ms (closeAfterReads) in Body.Close, and so in
// every cancel of such a stream.
func TestTransportCloseDoesNotWaitForBodyRead(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.Write([]byte("hello"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	for _, tc := range transports(t, nil) {
		for i := range 3 {
			closeWithIdlePipe(t, tc.name, i, tc.rt, srv.URL)
		}
	}
}

func closeWithIdlePipe(t *testing.T, name string, i int, tr http.RoundTripper, url string) {
	t.Helper()
	{
		pr, pw := io.Pipe()
		defer pw.Close()
		resp, err := tr.RoundTrip(mustReq("POST", url, pr))
		must(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(resp.Body, buf)
		must(t, err)
		begin := time.Now()
		resp.Body.Close()
		if d := time.Since(begin); d > 30*time.Millisecond {
			t.Errorf("%s %d: Body.Close took %v", name, i, d)
		}
	}
}
