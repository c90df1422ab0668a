package curlhttp_test

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
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
