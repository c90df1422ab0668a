// Package testutil holds the test helpers that curlpoll's packages share:
// loopback servers, leak checks and a slog handler that records. It is for
// tests only.
package testutil

import (
	"bufio"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"go.uber.org/goleak"
)

// Must fails the test at once if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// MustReq is http.NewRequest for a request known to be valid.
func MustReq(method, url string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		panic(err)
	}
	return r
}

// TestServer serves Handler on 127.0.0.1 until the test ends.
func TestServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	return srv
}

// Handler serves the paths the tests use:
//
//	/hello             "hello"
//	/bytes?n=N         N bytes of a repeating pattern, with Content-Length
//	/close             "bye" with Connection: close
//	/echo              the request body back; /echo?count=1 its length only
//	/stall-body?n=N    N bytes, then waits for the client to go away
//	/headers-then-wait status and headers, then waits for the client
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		WritePattern(w, n)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("count") != "" {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprint(w, n)
			return
		}
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n+1, 10))
		WritePattern(w, n)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/headers-then-wait", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	return mux
}

// Pattern is the repeating pattern WritePattern writes.
var Pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// WritePattern writes n bytes of Pattern, repeated, to w.
func WritePattern(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(Pattern)))
		if _, err := w.Write(Pattern[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// NewTLSServer starts an HTTPS server with HTTP/2 on, and returns it with
// the PEM of its certificate.
func NewTLSServer(t testing.TB, h http.Handler) (*httptest.Server, []byte) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ServerCAPEM(srv)
}

// ServerCAPEM returns the test server's certificate in PEM, to trust.
func ServerCAPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// OpenFDs counts this process's open file descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// ListFDs describes this process's open descriptors.
func ListFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s -> %s\n", e.Name(), l)
	}
	return b.String()
}

// CheckLeaks fails the test if, when it ends, curlpoll holds more easy
// handles or cgo handles than at the call (curlpoll.LiveCounts), if more
// descriptors are open, or if goroutines other than those at the start
// remain. Call it first in a test, before making anything.
func CheckLeaks(t testing.TB) {
	t.Helper()
	before := curlpoll.LiveCounts()
	fds := OpenFDs(t)
	goroutines := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		var now curlpoll.Live
		var nfd int
		deadline := time.Now().Add(2 * time.Second)
		for {
			now, nfd = curlpoll.LiveCounts(), OpenFDs(t)
			if now == before && nfd <= fds || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if now != before {
			t.Errorf("live resources: %+v at the start, %+v at the end", before, now)
		}
		if nfd > fds {
			t.Errorf("open descriptors: %d at the start, %d at the end:\n%s", fds, nfd, ListFDs())
		}
		if err := goleak.Find(goroutines); err != nil {
			t.Errorf("goroutines left: %v", err)
		}
		runtime.GC()
	})
}

// RecordHandler is a slog.Handler that keeps records in memory.
type RecordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *RecordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *RecordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *RecordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *RecordHandler) WithGroup(string) slog.Handler      { return h }

// Lines returns the records as "kind transfer message".
func (h *RecordHandler) Lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		var kind, id string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "kind":
				kind = a.Value.String()
			case "transfer":
				id = a.Value.String()
			}
			return true
		})
		out = append(out, kind+" "+id+" "+r.Message)
	}
	return out
}

// CheckLibcurl stops the tests at once if CURLPOLL_TEST_LIBCURL ("VERSION
// TLS [h3]", as the Makefile sets it) names another libcurl than the one
// they run on, as Version reports it: Go's build cache does not key cgo
// packages on pkg-config's output, so a run meant for one libcurl could
// otherwise test another. "h3" says the build has HTTP/3.
func CheckLibcurl() {
	want := os.Getenv("CURLPOLL_TEST_LIBCURL")
	if want == "" {
		return
	}
	v := curlpoll.Version()
	f := append(strings.Fields(want), "", "")
	if v.Version != f[0] || !strings.Contains(strings.ToLower(v.TLS), strings.ToLower(f[1])) || v.HTTP3 != (f[2] == "h3") || !v.HTTP2 {
		fmt.Fprintf(os.Stderr, "CURLPOLL_TEST_LIBCURL=%q, but the tests run on libcurl %s (%s, HTTP/2 %v, HTTP/3 %v)\n",
			want, v.Version, v.TLS, v.HTTP2, v.HTTP3)
		os.Exit(2)
	}
}

// WarmUp runs one transfer so that what a process sets up once (the
// runtime poller's epoll and eventfd, libcurl's and OpenSSL's global state)
// is in place before tests count descriptors.
func WarmUp() {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	m, err := curlpoll.NewMulti()
	if err != nil {
		panic(err)
	}
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL + "/hello")
	if err := m.Do(context.Background(), e); err != nil {
		panic(err)
	}
}

// DropSecondRequest serves one connection of a raw HTTP/1.1 server: it
// answers the first request ("ok", kept alive) and closes the connection
// when a second arrives on it, so that every request a client sends on a
// reused connection dies and is retried. Requests are read up to their
// blank line: GETs, without a body.
func DropSecondRequest(c net.Conn) {
	br := bufio.NewReader(c)
	for req := 0; ; req++ {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		if req == 1 {
			c.Close()
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}
