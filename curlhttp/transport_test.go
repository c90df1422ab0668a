package curlhttp_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// seen is what a test server saw of a request.
type seen struct {
	Method, URI, Host, Proto string
	Header                   http.Header
	ContentLength            int64
	TransferEncoding         []string
	Body                     string
	Trailer                  http.Header
}

// recorder is a handler that records each request, then runs h.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
	h    http.HandlerFunc
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{
		Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto,
		Header: r.Header.Clone(), ContentLength: r.ContentLength,
		TransferEncoding: r.TransferEncoding, Body: string(b), Trailer: r.Trailer,
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, s)
	rec.mu.Unlock()
	if rec.h != nil {
		rec.h(w, r)
	}
}

func (rec *recorder) take() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := rec.reqs
	rec.reqs = nil
	return r
}

// got is what a client observed of a response.
type got struct {
	Err                          string
	Status, Proto                string
	StatusCode                   int
	Header                       http.Header
	ContentLength                int64
	TransferEncoding             []string
	Uncompressed, Close, NilBody bool
	Body                         string
	Trailer                      http.Header
}

func observe(resp *http.Response, err error) got {
	if err != nil {
		return got{Err: "error"}
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	g := got{
		Status: resp.Status, Proto: resp.Proto, StatusCode: resp.StatusCode,
		Header: resp.Header.Clone(), ContentLength: resp.ContentLength,
		TransferEncoding: resp.TransferEncoding, Uncompressed: resp.Uncompressed,
		Close: resp.Close, NilBody: resp.Body == nil, Body: string(b), Trailer: resp.Trailer,
	}
	if rerr != nil {
		g.Err = "body: " + rerr.Error()
	}
	g.Header.Del("Date")
	return g
}

// transports returns a net/http Transport and a curlpoll Transport,
// configured alike, closed at the end of the test.
func transports(t *testing.T, setup func(*http.Transport, *curlhttp.Transport)) []struct {
	name string
	rt   http.RoundTripper
} {
	std := &http.Transport{}
	cp := &curlhttp.Transport{}
	if setup != nil {
		setup(std, cp)
	}
	t.Cleanup(func() {
		std.CloseIdleConnections()
		cp.Close()
	})
	return []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", cp}}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

// hiddenLength hides a reader's length from net/http.
type hiddenLength struct{ io.Reader }

// TestTransportSameAsNetHTTP runs each request through net/http's Transport
// and through curlpoll's and asserts that the server saw the same request
// and the client the same response.
func TestTransportSameAsNetHTTP(t *testing.T) {
	bigBody := strings.Repeat("0123456789abcdef", 128<<10) // 2 MiB
	cases := []struct {
		name    string
		handler http.HandlerFunc
		req     func(url string) *http.Request
	}{
		{"get", nil, func(u string) *http.Request { return mustReq("GET", u+"/a/b?x=1&y=%20", nil) }},
		{"empty method", nil, func(u string) *http.Request { r := mustReq("GET", u, nil); r.Method = ""; return r }},
		{"dot segments kept", nil, func(u string) *http.Request { return mustReq("GET", u+"/a/../b/./c", nil) }},
		{"escaped path", nil, func(u string) *http.Request { return mustReq("GET", u+"/a%2Fb/%E2%82%AC", nil) }},
		{"fragment dropped", nil, func(u string) *http.Request { return mustReq("GET", u+"/p#frag", nil) }},
		{"user info ignored", nil, func(u string) *http.Request {
			return mustReq("GET", strings.Replace(u, "://", "://user:pw@", 1), nil)
		}},
		{"headers", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Header["X-Multi"] = []string{"one", "two", "three"}
			r.Header.Set("Accept", "text/plain")
			r.Header["X-Empty"] = []string{""}
			r.Header.Set("X-Spaces", "  padded  ")
			r.Header.Set("Cookie", "a=b")
			r.Header.Set("Content-Length", "999") // ignored, as net/http does
			r.Header["lowercase-key"] = []string{"v"}
			return r
		}},
		{"user agent set", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Header.Set("User-Agent", "test/1")
			return r
		}},
		{"user agent suppressed", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Header["User-Agent"] = []string{""}
			return r
		}},
		{"host override", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Host = "example.com:8080"
			return r
		}},
		{"invalid host sent empty", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Host = "a/b c"
			return r
		}},
		{"head", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		}, func(u string) *http.Request { return mustReq("HEAD", u, nil) }},
		{"post known length", nil, func(u string) *http.Request {
			return mustReq("POST", u, strings.NewReader("hello=world"))
		}},
		{"post unknown length", nil, func(u string) *http.Request {
			return mustReq("POST", u, hiddenLength{strings.NewReader("streamed body")})
		}},
		{"post empty body of unknown length", nil, func(u string) *http.Request {
			return mustReq("POST", u, hiddenLength{strings.NewReader("")})
		}},
		{"put slow body of unknown length", nil, func(u string) *http.Request {
			return mustReq("PUT", u, slowBody("late"))
		}},
		{"delete empty body of unknown length", nil, func(u string) *http.Request {
			return mustReq("DELETE", u, hiddenLength{strings.NewReader("")})
		}},
		{"delete body of unknown length", nil, func(u string) *http.Request {
			return mustReq("DELETE", u, hiddenLength{strings.NewReader("x")})
		}},
		{"get slow body of unknown length", nil, func(u string) *http.Request {
			return mustReq("GET", u, slowBody("late"))
		}},
		{"post no body", nil, func(u string) *http.Request { return mustReq("POST", u, nil) }},
		{"put", nil, func(u string) *http.Request { return mustReq("PUT", u, strings.NewReader("put body")) }},
		{"patch no body", nil, func(u string) *http.Request { return mustReq("PATCH", u, nil) }},
		{"delete", nil, func(u string) *http.Request { return mustReq("DELETE", u, nil) }},
		{"options", nil, func(u string) *http.Request { return mustReq("OPTIONS", u, nil) }},
		{"custom method", nil, func(u string) *http.Request { return mustReq("PROPFIND", u, nil) }},
		{"get with body", nil, func(u string) *http.Request { return mustReq("GET", u, strings.NewReader("x")) }},
		{"big post: no Expect", nil, func(u string) *http.Request {
			return mustReq("POST", u, strings.NewReader(bigBody))
		}},
		{"big chunked post: no Expect", nil, func(u string) *http.Request {
			return mustReq("POST", u, hiddenLength{strings.NewReader(bigBody)})
		}},
		{"explicit content type", nil, func(u string) *http.Request {
			r := mustReq("POST", u, strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"request close", nil, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Close = true
			return r
		}},
		{"status 404", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", 404)
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"status 500 no reason", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"status 204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(204)
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"status 304", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(304)
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"interim 103", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(103)
			io.WriteString(w, "final")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"multi-valued response header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Set("X-Folded", "x")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"response header values with other spaces", func(w http.ResponseWriter, r *http.Request) {
			// net/http trims only spaces and tabs around a value.
			w.Header().Set("X-Nbsp", "\u00a0x\u00a0")
			w.Header().Set("X-Tab", "\ty\t")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"empty body with length 0", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "0")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"chunked with trailers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum, X-Count")
			io.WriteString(w, "part1 ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part2")
			w.Header().Set("X-Sum", "abc")
			w.Header().Set("X-Count", "2")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"gzip decoded", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped("compressed text"))
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"gzip asked by caller: untouched", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped("compressed text"))
		}, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Header.Set("Accept-Encoding", "gzip")
			return r
		}},
		{"range: no gzip", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "f.txt", time.Unix(0, 0), strings.NewReader("0123456789"))
		}, func(u string) *http.Request {
			r := mustReq("GET", u, nil)
			r.Header.Set("Range", "bytes=2-5")
			return r
		}},
		{"server closes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
		{"big response", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, bigBody)
		}, func(u string) *http.Request { return mustReq("GET", u, nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{h: tc.handler}
			if rec.h == nil {
				rec.h = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
			}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			var results []got
			var reqs [][]seen
			for _, rt := range transports(t, nil) {
				resp, err := rt.rt.RoundTrip(tc.req(srv.URL))
				results = append(results, observe(resp, err))
				reqs = append(reqs, rec.take())
			}
			if a, b := fmt.Sprintf("%+v", results[0]), fmt.Sprintf("%+v", results[1]); a != b {
				t.Errorf("responses differ:\nnet/http: %s\ncurlpoll: %s", a, b)
			}
			if a, b := fmt.Sprintf("%+v", reqs[0]), fmt.Sprintf("%+v", reqs[1]); a != b {
				t.Errorf("requests differ:\nnet/http: %s\ncurlpoll: %s", a, b)
			}
		})
	}
}

// slowBody returns a body that produces s after 300 ms, longer than
// net/http's 200 ms probe.
func slowBody(s string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(pw, s)
		pw.Close()
	}()
	return pr
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	n atomic.Int32
}

func (c *closeCounter) Close() error { c.n.Add(1); return nil }

// TestTransportInvalidRequest checks that both transports refuse the same
// requests, that nothing reaches the server, and that the body is closed.
func TestTransportInvalidRequest(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	cases := []struct {
		name     string
		mod      func(r *http.Request)
		curlOnly bool // net/http sends the request (with an empty Host)
	}{
		{"nil URL", func(r *http.Request) { r.URL = nil }, false},
		{"nil header", func(r *http.Request) { r.Header = nil }, false},
		{"ftp scheme", func(r *http.Request) { r.URL.Scheme = "ftp" }, false},
		{"file scheme", func(r *http.Request) { r.URL.Scheme = "file"; r.URL.Path = "/etc/passwd" }, false},
		{"dict scheme", func(r *http.Request) { r.URL.Scheme = "dict" }, false},
		{"gopher scheme", func(r *http.Request) { r.URL.Scheme = "gopher" }, false},
		{"no scheme", func(r *http.Request) { r.URL.Scheme = "" }, false},
		{"no host", func(r *http.Request) { r.URL.Host = "" }, false},
		{"method with space", func(r *http.Request) { r.Method = "GET /x HTTP/1.1\r\nX:" }, false},
		{"method with slash", func(r *http.Request) { r.Method = "GE/T" }, false},
		{"header name with space", func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} }, false},
		{"header name with colon", func(r *http.Request) { r.Header["Bad:Name"] = []string{"v"} }, false},
		{"empty header name", func(r *http.Request) { r.Header[""] = []string{"v"} }, false},
		{"header value with CRLF", func(r *http.Request) { r.Header.Set("X", "a\r\nInjected: yes") }, false},
		{"header value with LF", func(r *http.Request) { r.Header.Set("X", "a\nb") }, false},
		{"header value with NUL", func(r *http.Request) { r.Header.Set("X", "a\x00b") }, false},
		{"host with CRLF", func(r *http.Request) { r.Host = "a\r\nX: y" }, true},
		{"URL host with NUL", func(r *http.Request) { r.URL.Host = "127.0.0.1\x00.evil" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range transports(t, nil) {
				if tc.curlOnly && rt.name != "curlpoll" {
					continue
				}
				body := &closeCounter{Reader: strings.NewReader("body")}
				r := mustReq("POST", srv.URL, nil)
				r.Body, r.ContentLength = body, 4
				tc.mod(r)
				resp, err := rt.rt.RoundTrip(r)
				if err == nil {
					resp.Body.Close()
					t.Errorf("%s: no error", rt.name)
				}
				if n := body.n.Load(); n != 1 {
					t.Errorf("%s: body closed %d times", rt.name, n)
				}
			}
			if n := hits.Swap(0); n != 0 {
				t.Errorf("%d requests reached the server", n)
			}
		})
	}
}

// waitFDs waits, for a bounded time, until the open file descriptors are
// back to at most want.
func waitFDs(t *testing.T, want int) {
	t.Helper()
	var n int
	for range 100 {
		if n = openFDs(t); n <= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("open fds: %d, want %d", n, want)
}

func TestTransportZeroValueAndClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	base := openFDs(t)

	var tr curlhttp.Transport
	c := &http.Client{Transport: &tr}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 5 {
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hello" {
					t.Errorf("body %q", b)
				}
			}
		})
	}
	wg.Wait()
	tr.CloseIdleConnections()
	if _, err := c.Get(srv.URL); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	tr.Close()
	_, err := c.Get(srv.URL)
	if !errorsIs(err, curlpoll.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	srv.CloseClientConnections()
	waitFDs(t, base)
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			return slices.ContainsFunc(x.Unwrap(), func(e error) bool { return errorsIs(e, target) })
		default:
			return false
		}
	}
	return false
}

// TestTransportCloseInFlight closes the Transport under a request waiting
// for its header, and under a response body being read.
func TestTransportCloseInFlight(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	base := openFDs(t)

	tr := &curlhttp.Transport{}
	resp, err := tr.RoundTrip(mustReq("GET", srv.URL+"/body", nil))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(mustReq("GET", srv.URL+"/header", nil))
		errc <- err
	}()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the second request start
	tr.Close()
	if err := <-errc; !errorsIs(err, curlpoll.ErrClosed) {
		t.Errorf("RoundTrip in flight: %v", err)
	}
	if _, err := resp.Body.Read(buf); !errorsIs(err, curlpoll.ErrClosed) {
		t.Errorf("Read in flight: %v", err)
	}
	resp.Body.Close()
	waitFDs(t, base+2) // the server still holds its two connections
}

// TestTransportOptionWithNUL checks that a configuration value C would
// truncate fails the request before anything is sent, and that the
// Transport's next request, on the same pooled handle, is unaffected.
func TestTransportOptionWithNUL(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{CAFile: "ca\x00.pem"}
	defer tr.Close()
	resp, err := tr.RoundTrip(mustReq("GET", strings.Replace(srv.URL, "http:", "https:", 1), nil))
	if err == nil {
		resp.Body.Close()
		t.Fatal("https request with a NUL in CAFile: no error")
	}
	if !strings.Contains(err.Error(), "NUL") {
		t.Errorf("error %q does not name the NUL byte", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	resp, err = tr.RoundTrip(mustReq("GET", srv.URL, nil))
	if err != nil {
		t.Fatalf("next request: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("next request: body %q, want ok", b)
	}
}

// TestTransportFromRequestToRequest: one handle serves requests one after
// the other, and keeps what libcurl holds of the previous request (the URL,
// the method and body options, the header list) when the next one's is the
// same; each request must still go out exactly as net/http sends it. The
// sequence repeats, drops, adds and changes fields, methods, bodies and
// paths, and adds a Connection: close.
func TestTransportFromRequestToRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s len=%d te=%v body=%q\n", r.Method, r.RequestURI, r.ContentLength, r.TransferEncoding, body)
		var keys []string
		for k := range r.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s=%s\n", k, strings.Join(r.Header[k], "|"))
		}
	}))
	defer srv.Close()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	nh := &http.Transport{}
	defer nh.CloseIdleConnections()
	type step struct {
		method, path, body string
		h                  http.Header
		close              bool
	}
	get := func(s step) step { s.method = "GET"; return s }
	a1 := http.Header{"X-A": {"1"}}
	a2b := http.Header{"X-A": {"2"}, "X-B": {"3", "4"}}
	steps := []step{
		get(step{h: a1}),
		get(step{h: a1}),
		get(step{h: http.Header{}}),
		get(step{h: http.Header{}}),
		get(step{h: http.Header{"X-A": {"2"}}}),
		get(step{h: a2b}),
		get(step{h: a2b, close: true}),
		get(step{h: a2b}),
		get(step{h: http.Header{"X-A": {"2"}, "User-Agent": {"mine/1"}}}),
		get(step{h: http.Header{"X-A": {"2"}}, path: "/other?q=1"}),
		get(step{h: http.Header{"X-A": {"2"}}, path: "/other?q=1"}),
		{method: "POST", body: "one", h: a1},
		{method: "POST", body: "two", h: a1},
		get(step{h: a1}),
		{method: "HEAD", h: a1},
		get(step{h: a1}),
		{method: "PUT", h: a1},
		{method: "PUT", body: "three", h: a1},
		{method: "PURGE", h: a1},
		{method: "DELETE", h: a1},
		get(step{h: a1}),
	}
	send := func(rt http.RoundTripper, s step) string {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req := mustReq(s.method, srv.URL+s.path, body)
		req.Header = s.h.Clone()
		req.Close = s.close
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	for i, s := range steps {
		want := send(nh, s)
		if got := send(cp, s); got != want {
			t.Errorf("request %d (%+v): the server saw\n%s\nnet/http's:\n%s", i+1, s, got, want)
		}
	}
}
