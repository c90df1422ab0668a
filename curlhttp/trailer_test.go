package curlhttp_test

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// trailerBody is a request body of unknown length whose reader sets the
// request's trailers as it ends, as net/http lets it.
type trailerBody struct {
	r    io.Reader
	req  *http.Request
	late []string // X-Two's values
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.req.Trailer.Set("X-Sum", "late value")
		b.req.Trailer["X-Two"] = b.late
	}
	return n, err
}

func (b *trailerBody) Close() error { return nil }

// trailerRequest is a POST of "hello" with trailers X-Sum and X-Two
// declared, set by its body's reader at the end; X-Two's second value has a
// line break (a line injected, unless it is made a space).
func trailerRequest(url string, length int64) *http.Request {
	req := mustReq("POST", url, nil)
	req.Trailer = http.Header{"X-Sum": nil, "X-Two": nil}
	req.Body = &trailerBody{r: strings.NewReader("hello"), req: req, late: []string{"a", "b\r\nX-Injected: 1"}}
	req.ContentLength = length
	return req
}

// trailerEcho answers with what it received: protocol, body, the
// Transfer-Encoding, the declared trailer names and the trailers' values.
var trailerEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var names []string
	for k := range r.Trailer {
		names = append(names, k)
	}
	declared := len(names)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	io.WriteString(w, strings.Join([]string{r.Proto, string(b), strings.Join(r.TransferEncoding, ","),
		strings.Repeat("d", declared), r.Trailer.Get("X-Sum"), strings.Join(r.Trailer.Values("X-Two"), ";"),
		r.Trailer.Get("X-Injected")}, "|"))
})

// TestTransportRequestTrailers: a request's Trailer goes out after a body
// of unknown length (chunked), with the values its reader set by the end
// and a Trailer field naming them, as net/http sends it; with a known
// length neither sends any; the names net/http refuses are refused before
// anything is sent; over HTTPS with HTTP/2 on offer, where libcurl sends no
// trailers, the request goes over HTTP/1.1 and its trailers arrive, and
// where the Transport speaks HTTP/2 alone it fails before anything is sent.
func TestTransportRequestTrailers(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		trailerEcho(w, r)
	}))
	defer srv.Close()
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()

	send := func(rt http.RoundTripper, req *http.Request) (string, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, tc := range []struct {
		name   string
		length int64
		want   string
	}{
		{"chunked", -1, "HTTP/1.1|hello|chunked|dd|late value|a;b  X-Injected: 1|"},
		{"length 0, unknown", 0, "HTTP/1.1|hello|chunked|dd|late value|a;b  X-Injected: 1|"},
		{"known length", 5, "HTTP/1.1|hello|||||"},
	} {
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", std}, {"curlpoll", cp}} {
			got, err := send(rt.rt, trailerRequest(srv.URL, tc.length))
			if err != nil || got != tc.want {
				t.Errorf("%s, %s: %q, %v; want %q", tc.name, rt.name, got, err, tc.want)
			}
		}
	}

	// Refused before anything is sent, with net/http's errors.
	served.Store(0)
	for _, tc := range []struct {
		name    string
		trailer http.Header
		want    string
	}{
		{"Content-Length", http.Header{"Content-Length": nil}, `invalid Trailer key "Content-Length"`},
		{"trailer", http.Header{"trailer": nil}, `invalid Trailer key "Trailer"`},
		{"a space in a name", http.Header{"X Bad": nil}, `net/http: invalid trailer field name "X Bad"`},
		{"a value with a line break", http.Header{"X-Bad": {"a\nb"}}, `net/http: invalid trailer field value for "X-Bad"`},
	} {
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", std}, {"curlpoll", cp}} {
			req := trailerRequest(srv.URL, -1)
			req.Trailer = tc.trailer
			_, err := send(rt.rt, req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, %s: %v, want an error with %q", tc.name, rt.name, err, tc.want)
			}
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("%d refused requests reached the server", n)
	}

	// HTTPS with HTTP/2 on offer: net/http sends the trailers over HTTP/2,
	// the Transport over HTTP/1.1.
	tlsSrv, ca := newTLSServer(t, trailerEcho)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	stdTLS := &http.Transport{ForceAttemptHTTP2: true}
	stdTLS.TLSClientConfig = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	defer stdTLS.CloseIdleConnections()
	cpTLS := &curlhttp.Transport{CAPEM: ca}
	defer cpTLS.Close()
	for _, rt := range []struct {
		name, want string
		rt         http.RoundTripper
	}{
		{"net/http", "HTTP/2.0|hello||dd|late value|a;b|", stdTLS},
		{"curlpoll", "HTTP/1.1|hello|chunked|dd|late value|a;b|", cpTLS},
	} {
		req := trailerRequest(tlsSrv.URL, -1)
		req.Body.(*trailerBody).late = []string{"a", "b"} // HTTP/2 refuses a line break
		got, err := send(rt.rt, req)
		if err != nil || got != rt.want {
			t.Errorf("https, %s: %q, %v; want %q", rt.name, got, err, rt.want)
		}
	}
	// A request without trailers still goes over HTTP/2 (the HTTP/1.1
	// connection was not kept).
	if got, err := send(cpTLS, mustReq("POST", tlsSrv.URL, strings.NewReader("x"))); err != nil || !strings.HasPrefix(got, "HTTP/2.0|x|") {
		t.Errorf("https without trailers: %q, %v; want HTTP/2.0", got, err)
	}

	// HTTP/2 alone (h2c with prior knowledge; HTTP/2 alone over TLS, where
	// net/http offers only h2 in ALPN): refused before anything is sent.
	var h2cOnly, h2Only http.Protocols
	h2cOnly.SetUnencryptedHTTP2(true)
	h2Only.SetHTTP2(true)
	var h2cServed, tlsServed atomic.Int32
	h2cSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h2cServed.Add(1)
		trailerEcho(w, r)
	}))
	h2cSrv.Config.Protocols = new(http.Protocols)
	h2cSrv.Config.Protocols.SetHTTP1(true)
	h2cSrv.Config.Protocols.SetUnencryptedHTTP2(true)
	h2cSrv.Start()
	defer h2cSrv.Close()
	tlsSrv2, ca2 := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsServed.Add(1)
		trailerEcho(w, r)
	}))
	for _, tc := range []struct {
		name   string
		tr     *curlhttp.Transport
		url    string
		served *atomic.Int32
	}{
		{"h2c only", &curlhttp.Transport{Protocols: &h2cOnly}, h2cSrv.URL, &h2cServed},
		{"HTTP/2 only over TLS", &curlhttp.Transport{Protocols: &h2Only, CAPEM: ca2}, tlsSrv2.URL, &tlsServed},
	} {
		defer tc.tr.Close()
		tc.served.Store(0)
		if _, err := send(tc.tr, trailerRequest(tc.url, -1)); err == nil || !strings.Contains(err.Error(), "trailers") {
			t.Errorf("%s: %v, want an error about trailers", tc.name, err)
		}
		if n := tc.served.Load(); n != 0 {
			t.Errorf("%s: %d requests reached the server", tc.name, n)
		}
		// Without trailers: served, over HTTP/2.
		if got, err := send(tc.tr, mustReq("POST", tc.url, strings.NewReader("x"))); err != nil || !strings.HasPrefix(got, "HTTP/2.0|x|") {
			t.Errorf("%s, without trailers: %q, %v; want HTTP/2.0", tc.name, got, err)
		}
	}
}

// TestTransportRequestTrailersSentAgain: a request with trailers that may be
// repeated (an Idempotency-Key) goes on a kept-alive connection that the
// server closes without answering. net/http, and libcurl 8.7.0 and later,
// send it again on a new connection, trailers included. Before 8.7.0
// libcurl's trailer state outlives the first send, and the second would
// write outside its upload buffer (the process crashed on 7.88.1): there
// the request fails with ErrRequestLimit and io.EOF, as one net/http does
// not repeat; the Transport and its pooled handle work on afterwards.
func TestTransportRequestTrailersSentAgain(t *testing.T) {
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
		once bool
	}{{"net/http", &http.Transport{}, false}, {"curlpoll", &curlhttp.Transport{}, curlpoll.Version().Number < 0x080700}} {
		t.Run(rt.name, func(t *testing.T) {
			defer rt.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			var conns atomic.Int32
			ln := serveEach(t, func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				first := conns.Add(1) == 1
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					if first && req.Method == "POST" {
						return // read in full, trailers and all; no answer
					}
					body := string(b) + "|" + req.Trailer.Get("X-Sum")
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				}
			})
			url := "http://" + ln.Addr().String() + "/"
			post := func() (string, error) {
				req := mustReq("POST", url, strings.NewReader("hello"))
				req.ContentLength = -1 // chunked
				req.Header.Set("Idempotency-Key", "k1")
				req.Trailer = http.Header{"X-Sum": {"5"}}
				resp, err := rt.rt.RoundTrip(req)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			resp, err := rt.rt.RoundTrip(mustReq("GET", url, nil)) // the connection to reuse
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got, err := post()
			switch {
			case rt.once:
				if !errors.Is(err, curlpoll.ErrRequestLimit) || !errors.Is(err, io.EOF) {
					t.Errorf("%q, %v; want ErrRequestLimit and io.EOF (libcurl %s)", got, err, curlpoll.Version().Version)
				}
			case err != nil || got != "hello|5":
				t.Errorf("sent again: %q, %v; want \"hello|5\"", got, err)
			}
			// The next chunked uploads, with trailers and without, are whole.
			if got, err := post(); err != nil || got != "hello|5" {
				t.Errorf("the next request: %q, %v; want \"hello|5\"", got, err)
			}
			req := mustReq("POST", url, strings.NewReader("plain"))
			req.ContentLength = -1
			if resp, err := rt.rt.RoundTrip(req); err != nil {
				t.Errorf("a plain chunked upload after: %v", err)
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "plain|" {
					t.Errorf("a plain chunked upload after: %q", b)
				}
			}
		})
	}
}

// TestTransportRequestTrailersHTTP3AttemptH2Only: with Protocols allowing
// HTTP/2 alone over TLS and HTTP3Attempt, a request with trailers is
// refused before anything is sent (it went out over HTTP/1.1, which
// Protocols forbids; a second review).
func TestTransportRequestTrailersHTTP3AttemptH2Only(t *testing.T) {
	if !curlpoll.Version().HTTP3 {
		t.Skip("libcurl without HTTP/3")
	}
	var served atomic.Int32
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		trailerEcho(w, r)
	}))
	var h2Only http.Protocols
	h2Only.SetHTTP2(true)
	tr := &curlhttp.Transport{Protocols: &h2Only, CAPEM: ca, HTTP3: curlhttp.HTTP3Attempt}
	defer tr.Close()
	resp, err := tr.RoundTrip(trailerRequest(srv.URL, -1))
	if err == nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "trailers") || served.Load() != 0 {
		t.Errorf("HTTP/2 alone over TLS, HTTP3Attempt: %v, %d requests served; want an error about trailers before sending", err, served.Load())
	}
}
