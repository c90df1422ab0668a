package curlhttp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// dropSecondFullRequest, for serveRequests, answers a connection's first
// request, and closes the connection without an answer once it has read
// the second in full.
func dropSecondFullRequest(seen *atomic.Int32) func(c net.Conn, i int, req *http.Request) bool {
	return func(c net.Conn, i int, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		seen.Add(1)
		if i == 1 {
			return false // serveEach closes c
		}
		_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	}
}

// TestTransportSendsOnceWhatNetHTTPSendsOnce: a request goes out on a
// kept connection that the server closes after reading it, with no
// answer. net/http sends it again on a new connection only if it may be
// repeated (Request.isReplayable): a POST, with or without GetBody, is
// sent once and fails (the server must not, say, charge twice), and a GET
// or a POST with an Idempotency-Key is sent again and succeeds. libcurl
// would send them all again (an independent review found the POST sent
// twice).
func TestTransportSendsOnceWhatNetHTTPSendsOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		body   func() io.Reader
		key    bool
		again  bool
	}{
		{"POST without a body", "POST", func() io.Reader { return nil }, false, false},
		{"POST with GetBody", "POST", func() io.Reader { return strings.NewReader("charge=100") }, false, false},
		{"PATCH with GetBody", "PATCH", func() io.Reader { return strings.NewReader("x=1") }, false, false},
		{"POST with an Idempotency-Key", "POST", func() io.Reader { return strings.NewReader("charge=100") }, true, true},
		{"GET", "GET", func() io.Reader { return nil }, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range transports(t, nil) {
				var seen atomic.Int32
				ln := serveRequests(t, dropSecondFullRequest(&seen))
				url := "http://" + ln.Addr().String() + "/charge"
				do := func() (*http.Response, error) {
					req := mustReq(tc.method, url, tc.body())
					if tc.key {
						req.Header.Set("Idempotency-Key", "k1")
					}
					return rt.rt.RoundTrip(req)
				}
				resp, err := do()
				if err != nil {
					t.Fatalf("%s: first request: %v", rt.name, err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
				resp, err = do()
				if err == nil {
					io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				want := map[bool]int32{false: 2, true: 3}[tc.again]
				if n := seen.Load(); n != want || (err == nil) != tc.again {
					t.Errorf("%s: the server read %d requests (want %d), second request's error %v (want one: %v)",
						rt.name, n, want, err, !tc.again)
				}
				if err != nil && !tc.again && !errors.Is(err, io.EOF) {
					t.Errorf("%s: the error is not io.EOF, as net/http's: %v", rt.name, err)
				}
				if rt.name == "curlpoll" && err != nil && !errors.Is(err, curlpoll.ErrRequestLimit) {
					t.Errorf("%s: the error does not hold ErrRequestLimit: %v", rt.name, err)
				}
			}
		})
	}
}

// TestTransport417SentOnce: a request with its caller's "Expect:
// 100-continue" gets a 417. net/http returns the 417; libcurl sends the
// request again, with the caller's Expect line still in it, and gets a 417
// again, dozens or thousands of times (an independent review counted up to
// 1,534 requests on 7.88.1). The Transport sends it once and returns the
// 417; libcurl drops the body of a response it means to send the request
// again for, so the body is empty (documented).
func TestTransport417SentOnce(t *testing.T) {
	for _, rt := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.ExpectContinueTimeout = 5e9
		cp.ExpectContinueTimeout = 5e9
	}) {
		var seen atomic.Int32
		ln := serveRequests(t, func(c net.Conn, _ int, req *http.Request) bool {
			seen.Add(1)
			if req.Header.Get("Expect") != "" {
				io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope")
				return false
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\naccepted")
			return true
		})
		req := mustReq("PUT", "http://"+ln.Addr().String()+"/obj", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		resp, err := rt.rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", rt.name, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusExpectationFailed || err != nil || seen.Load() != 1 {
			t.Errorf("%s: %d, body %q, %v; the server read %d requests (want 417 and 1)", rt.name, resp.StatusCode, b, err, seen.Load())
		}
		if want := map[string]string{"net/http": "nope", "curlpoll": ""}[rt.name]; string(b) != want {
			t.Errorf("%s: body %q, want %q", rt.name, b, want)
		}
	}
}

// TestTransportCancelCause: net/http returns the context's cause
// (context.Cause), given with WithCancelCause or WithTimeoutCause, before
// the response and from the body's reads; curlpoll returned the plain
// context error (an independent review found it).
func TestTransportCancelCause(t *testing.T) {
	cause := errors.New("shutting down")
	for _, rt := range transports(t, nil) {
		silent := serveEach(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers
		url := "http://" + silent.Addr().String() + "/"

		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
		if _, err := rt.rt.RoundTrip(mustReq("GET", url, nil).WithContext(ctx)); !errors.Is(err, cause) {
			t.Errorf("%s, cancelled with a cause while waiting for the response: %v", rt.name, err)
		}
		// A context done before the request starts.
		if _, err := rt.rt.RoundTrip(mustReq("GET", url, nil).WithContext(ctx)); !errors.Is(err, cause) {
			t.Errorf("%s, a request on a context already cancelled with a cause: %v", rt.name, err)
		}
		tctx, tcancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, cause)
		_, err := rt.rt.RoundTrip(mustReq("GET", url, nil).WithContext(tctx))
		tcancel()
		if !errors.Is(err, cause) {
			t.Errorf("%s, timed out with a cause: %v", rt.name, err)
		}

		// While the body is read: the header block came, the body does not.
		stalled := serveEach(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			io.Copy(io.Discard, c)
		})
		bctx, bcancel := context.WithCancelCause(context.Background())
		resp, err := rt.rt.RoundTrip(mustReq("GET", "http://"+stalled.Addr().String()+"/", nil).WithContext(bctx))
		if err != nil {
			t.Fatalf("%s: %v", rt.name, err)
		}
		time.AfterFunc(50*time.Millisecond, func() { bcancel(cause) })
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, cause) {
			t.Errorf("%s, cancelled with a cause while reading the body: %v", rt.name, err)
		}
	}
}

// TestTransportContentLengthMismatch: a request whose ContentLength is not
// its body's length fails with net/http's error, and the server gets no
// whole request: a nil body with a length (refused before anything is
// sent), a shorter body (libcurl 7.88 waited for the rest for ever), a
// longer one (libcurl sent the declared bytes and succeeded). An
// independent review found all three.
func TestTransportContentLengthMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func() io.ReadCloser
		n    int64
		want string
	}{
		{"nil body", func() io.ReadCloser { return nil }, 5, "http: Request.ContentLength=5 with nil Body"},
		{"nil body, length -1", func() io.ReadCloser { return nil }, -1, "http: Request.ContentLength=-1 with nil Body"},
		{"shorter body", func() io.ReadCloser { return io.NopCloser(strings.NewReader("abc")) }, 5, "http: ContentLength=5 with Body length 3"},
		{"longer body", func() io.ReadCloser { return io.NopCloser(strings.NewReader("abcdefgh")) }, 5, "http: ContentLength=5 with Body length 8"},
		{"longer by a byte, in one read", func() io.ReadCloser { return io.NopCloser(strings.NewReader("abcdef")) }, 5, "http: ContentLength=5 with Body length 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range transports(t, nil) {
				var whole atomic.Int32
				ln := serveRequests(t, func(c net.Conn, _ int, req *http.Request) bool {
					if _, err := io.ReadAll(req.Body); err != nil {
						return false
					}
					whole.Add(1)
					_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return err == nil
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req := mustReq("POST", "http://"+ln.Addr().String()+"/", nil).WithContext(ctx)
				req.Body, req.ContentLength = tc.body(), tc.n
				resp, err := rt.rt.RoundTrip(req)
				cancel()
				if err == nil {
					resp.Body.Close()
				}
				if err == nil || err.Error() != tc.want {
					t.Errorf("%s: error %v, want %q", rt.name, err, tc.want)
				}
				// The server has had its chance to read a request: the
				// exchange above is over.
				if n := whole.Load(); n != 0 {
					t.Errorf("%s: the server read %d whole requests, want 0", rt.name, n)
				}
			}
		})
	}
	// The right length still goes through, GetBody's copies too (the
	// second request is sent again on a new connection: an
	// Idempotency-Key lets it), and NoBody sends a length of 0.
	for _, rt := range transports(t, nil) {
		ln := serveRequests(t, dropSecondFullRequest(new(atomic.Int32)))
		url := "http://" + ln.Addr().String() + "/"
		for i := range 3 {
			req := mustReq("PUT", url, strings.NewReader("abcde"))
			req.Header.Set("Idempotency-Key", "k")
			if i == 2 {
				req.Body = http.NoBody
			}
			resp, err := rt.rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s, request %d: %v", rt.name, i+1, err)
			}
			resp.Body.Close()
		}
	}
}

// rawResponseCase is a response written as it is on the wire, what
// RoundTrip must fail with (empty: succeed, with the body "ok"), and
// whether libcurl may refuse it first, on its own (CURLE_BAD_CONTENT_ENCODING).
type rawResponseCase struct {
	name, response, want string
	libcurlRefuses       bool
}

// checkRawResponses sends a GET through net/http's Transport and through
// curlpoll's to a server that answers with each case's response, then
// waits for the client to go, and checks the outcome; check, if set,
// looks further at a response that came through.
func checkRawResponses(t *testing.T, cases []rawResponseCase, check func(t *testing.T, name string, resp *http.Response)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range transports(t, nil) {
				ln := serveEach(t, func(c net.Conn) {
					if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
						return
					}
					io.WriteString(c, tc.response)
					io.Copy(io.Discard, c)
				})
				resp, err := rt.rt.RoundTrip(mustReq("GET", "http://"+ln.Addr().String()+"/", nil))
				if tc.want != "" {
					if err == nil {
						resp.Body.Close()
					}
					var ce *curlpoll.Error
					refused := tc.libcurlRefuses && errors.As(err, &ce) && ce.Code == curlpoll.ErrBadContentEncoding
					if err == nil || !strings.Contains(err.Error(), tc.want) && !refused {
						t.Errorf("%s: error %v, want %q", rt.name, err, tc.want)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", rt.name, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != "ok" {
					t.Errorf("%s: body %q, %v", rt.name, b, err)
				}
				if check != nil {
					check(t, rt.name, resp)
				}
			}
		})
	}
}

// TestTransportMultipleContentLengths: a response with two different
// Content-Length fields is refused, as net/http refuses it (against
// response smuggling: libcurl frames the body by the last value), and
// copies of one value are one field (an independent review found the
// first accepted).
func TestTransportMultipleContentLengths(t *testing.T) {
	const smuggled = "HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\n\r\n"
	checkRawResponses(t, []rawResponseCase{
		{"different", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\nok" + smuggled,
			`http: message cannot contain multiple Content-Length headers; got ["2" "30"]`, false},
		{"different, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			`http: message cannot contain multiple Content-Length headers; got ["1" "2"]`, false},
		{"copies", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length:  2\r\n\r\nok" + smuggled, "", false},
	}, func(t *testing.T, name string, resp *http.Response) {
		if resp.ContentLength != 2 || len(resp.Header["Content-Length"]) != 1 {
			t.Errorf("%s: ContentLength %d, fields %q", name, resp.ContentLength, resp.Header["Content-Length"])
		}
	})
}

// TestTransportTransferEncodings: as net/http, a response from HTTP/1.1 on
// has one Transfer-Encoding field, "chunked" (any case), or is refused
// (against response smuggling; an independent review found "identity"
// accepted, and "gzip, chunked" refused only as the body was read; libcurl
// 8.x refuses that one itself).
func TestTransportTransferEncodings(t *testing.T) {
	const chunks = "2\r\nok\r\n0\r\n\r\n"
	checkRawResponses(t, []rawResponseCase{
		{"identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nok",
			`unsupported transfer encoding: "identity"`, false},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + chunks,
			`unsupported transfer encoding: "gzip, chunked"`, true},
		{"two fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
			`too many transfer encodings: ["chunked" "chunked"]`, false},
		{"Chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n" + chunks, "", false},
	}, nil)
}

// TestTransportReplayableWithExpect: a request net/http may repeat still
// may when it asks for "100-continue" (isReplayable ignores Expect): sent
// again after its kept connection drops, it succeeds (an independent
// review found it failing once the 417 loop was bounded).
func TestTransportReplayableWithExpect(t *testing.T) {
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			for _, rt := range transports(t, nil) {
				var seen atomic.Int32
				ln := serveRequests(t, dropSecondFullRequest(&seen))
				url := "http://" + ln.Addr().String() + "/charge"
				do := func(expect bool) (*http.Response, error) {
					var body io.Reader
					if method == "POST" {
						body = strings.NewReader("charge=100")
					}
					req := mustReq(method, url, body)
					req.Header.Set("Idempotency-Key", "k1")
					if expect {
						req.Header.Set("Expect", "100-continue")
					}
					return rt.rt.RoundTrip(req)
				}
				for i, expect := range []bool{false, true} {
					resp, err := do(expect)
					if err != nil {
						t.Fatalf("%s, request %d: %v (the server read %d)", rt.name, i+1, err, seen.Load())
					}
					io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if n := seen.Load(); n != 3 {
					t.Errorf("%s: the server read %d requests, want 3", rt.name, n)
				}
			}
		})
	}
}

// TestTransportDeclaredLengthThenBlocks: a body of declared length whose
// reader ends only once the response is in (a pipe closed after it) goes
// out whole at once, as net/http sends it: holding its last bytes back to
// look for more hung the request (an independent review found it).
func TestTransportDeclaredLengthThenBlocks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, b)
		fmt.Fprintf(w, "%d %v", len(b), err)
	}))
	defer srv.Close()
	for _, size := range []int{5, 100 << 10} {
		for _, rt := range transports(t, nil) {
			pr, pw := io.Pipe()
			got := make(chan struct{})
			go func() {
				pw.Write(make([]byte, size))
				<-got
				pw.Close()
			}()
			req := mustReq("PUT", srv.URL, pr)
			req.ContentLength = int64(size)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := rt.rt.RoundTrip(req.WithContext(ctx))
			close(got)
			if err != nil {
				t.Errorf("%s, %d bytes: %v", rt.name, size, err)
				cancel()
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if want := fmt.Sprintf("%d <nil>", size); string(b) != want {
				t.Errorf("%s, %d bytes: %q, want %q", rt.name, size, b, want)
			}
		}
	}
}
