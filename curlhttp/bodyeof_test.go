package curlhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// eofServer serves a body with a Content-Length at /length and a chunked
// one at /chunked, counting its connections.
func eofServer(t *testing.T) (*httptest.Server, *connCounter) {
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			io.WriteString(w, "chunk one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "chunk two")
			return
		}
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}))
	srv.Config.ConnState = cc.track
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &cc
}

// TestTransportBodyReadToEOFWithoutClose reads response bodies to their
// end and never closes them, as code does that replaces resp.Body with a
// copy of what it read (go-github's CheckResponse does, for every error
// response). net/http's Transport gives the connection back at the body's
// EOF: the next request reuses it, and nothing of the request stays
// behind. Here each such request kept its easy handle, and its Transport
// reachable (a live request), so that a Transport dropped without Close
// was never collected: go-github's tests, a Transport each, ended with
// hundreds of Multis and their connections open.
func TestTransportBodyReadToEOFWithoutClose(t *testing.T) {
	srv, cc := eofServer(t)
	checkLeaks(t)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	get := func(path, want string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		must(t, err)
		b, err := io.ReadAll(resp.Body)
		must(t, err)
		if string(b) != want {
			t.Fatalf("%s: body %q, want %q", path, b, want)
		}
		// Reads after the end go on returning io.EOF, as net/http's.
		if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("%s: Read after the end = %d, %v; want 0, io.EOF", path, n, err)
		}
		// No Close.
	}
	get("/length", "hello") // the connection, and an easy handle to reuse
	before := curlpoll.LiveCounts()
	const n = 10
	for i := range n {
		if i%2 == 0 {
			get("/length", "hello")
		} else {
			get("/chunked", "chunk one,chunk two")
		}
	}
	if now := curlpoll.LiveCounts(); now.Easies > before.Easies {
		t.Errorf("%d easy handles live after %d requests whose bodies were read to their end, %d before: "+
			"the requests were not released at EOF", now.Easies, n, before.Easies)
	}
	if got := cc.total.Load(); got != 1 {
		t.Errorf("%d connections for %d sequential requests, want 1: net/http reuses a connection once its body is read to EOF", got, n+1)
	}
}

// TestTransportDroppedAfterBodiesReadToEOF drops Transports whose
// responses were read to their end but not closed: as with net/http's,
// their Multis, handles and connections go once they are unreachable.
func TestTransportDroppedAfterBodiesReadToEOF(t *testing.T) {
	srv, _ := eofServer(t) // before checkLeaks: its goroutines may outlive the test's checks
	checkLeaks(t)
	before := curlpoll.LiveCounts()
	fds := openFDs(t)
	use := func() {
		c := &http.Client{Transport: &curlhttp.Transport{}}
		for _, path := range []string{"/length", "/chunked"} {
			resp, err := c.Get(srv.URL + path)
			must(t, err)
			_, err = io.Copy(io.Discard, resp.Body) // WriteTo
			must(t, err)
			resp.Body = io.NopCloser(strings.NewReader("")) // as if a copy replaced it
		}
	}
	const n = 5
	for range n {
		use()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		if curlpoll.LiveCounts() == before && openFDs(t) <= fds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dropped Transports, whose bodies were read to EOF, still hold %+v (at the start %+v) and %d descriptors (%d)",
				n, curlpoll.LiveCounts(), before, openFDs(t), fds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTransportChunkedBodyEOFWithLastBytes reads a chunked response whose
// last chunk is in: as net/http's, the Read that returns the last bytes
// returns io.EOF with them, so that code which stops reading once it has
// what it needs (a json.Decoder) and never closes the body still lets the
// request go. net/http runs first as the reference.
func TestTransportChunkedBodyEOFWithLastBytes(t *testing.T) {
	srv, _ := eofServer(t)
	checkLeaks(t)
	ref := &http.Transport{}
	defer ref.CloseIdleConnections()
	read := func(rt http.RoundTripper) (n int, err error, body string) {
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL + "/chunked")
		must(t, err)
		defer resp.Body.Close()
		if len(resp.TransferEncoding) == 0 {
			t.Fatalf("the response is not chunked: %v", resp.Header)
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatal(err)
		}
		// The rest, and the last chunk, arrive meanwhile: for the
		// Transport, until its transfer is over (ResponseInfo).
		time.Sleep(300 * time.Millisecond)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := curlhttp.ResponseInfo(resp); ok || rt == http.RoundTripper(ref) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the transfer was not over after 10 s")
			}
		}
		buf := make([]byte, 100)
		n, err = resp.Body.Read(buf)
		return n, err, string(first) + string(buf[:n])
	}
	if n, err, _ := read(ref); n == 0 || err != io.EOF {
		t.Skipf("net/http's Read returned %d, %v: the last chunk was not in yet", n, err)
	}
	tr := &curlhttp.Transport{}
	defer tr.Close()
	n, err, body := read(tr)
	if body != "chunk one,chunk two" || err != io.EOF {
		t.Errorf("Read of the rest = %d bytes (body %q), %v; want the last bytes with io.EOF, as net/http's", n, body, err)
	}
}
