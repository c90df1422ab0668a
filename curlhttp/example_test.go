package curlhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// DialContext makes the connections, as with net/http: here to a server
// on a Unix socket, as Docker's clients talk to the Docker daemon. The
// URL's host is a name no resolver needs to know.
func ExampleTransport_dialContext() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "daemon.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s over a Unix socket", r.Method, r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	tr := &curlhttp.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get("http://daemon/v1/info")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: GET /v1/info over a Unix socket
}

// filterHandler passes on the records keep accepts.
type filterHandler struct {
	slog.Handler
	keep func(slog.Record) bool
}

func (f filterHandler) Handle(ctx context.Context, r slog.Record) error {
	if !f.keep(r) {
		return nil
	}
	return f.Handler.Handle(ctx, r)
}

// Put a curlhttp.Transport in an http.Client, and every request the client
// makes runs on libcurl, with net/http's semantics.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.UserAgent())
	}))
	defer srv.Close()

	tr := &curlhttp.Transport{} // the zero value is ready to use
	defer tr.Close()
	client := &http.Client{Transport: tr}

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Proto)
	fmt.Println(string(body))
	// Output:
	// 200 OK HTTP/1.1
	// hello, Go-http-client/1.1
}

// A ClientTrace in the request's context sees the Transport's connection
// and request events, as with net/http. The hooks run on the request's
// goroutine, not inside libcurl.
func ExampleTransport_trace() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	for range 2 {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			ConnectStart:         func(network, addr string) { fmt.Println("connect", network) },
			GotConn:              func(i httptrace.GotConnInfo) { fmt.Println("got conn, reused:", i.Reused) },
			WroteRequest:         func(httptrace.WroteRequestInfo) { fmt.Println("wrote request") },
			GotFirstResponseByte: func() { fmt.Println("first response byte") },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Output:
	// connect tcp
	// got conn, reused: false
	// wrote request
	// first response byte
	// got conn, reused: true
	// wrote request
	// first response byte
}

// ResponseInfo gives libcurl's timings and the connection of a response's
// transfer, once its body is read or closed.
func ExampleResponseInfo() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()

	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	info, ok := curlhttp.ResponseInfo(resp)
	fmt.Println("known:", ok)
	fmt.Println("server:", info.RemoteAddr.String() == srv.Listener.Addr().String())
	fmt.Println("reused:", info.Reused)
	fmt.Println("phases in order:", info.Connect <= info.PreTransfer && info.PreTransfer <= info.StartTransfer &&
		info.StartTransfer <= info.Total)
	// Output:
	// known: true
	// server: true
	// reused: false
	// phases in order: true
}

// Transport.Logger receives libcurl's verbose output, one record per line,
// with credentials redacted.
func ExampleTransport_logger() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// A handler that prints only the request's header lines, without the
	// time and the attributes, to keep the output stable.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key != slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	})
	logger := slog.New(filterHandler{h, func(r slog.Record) bool {
		return strings.HasPrefix(r.Message, "GET") || strings.HasPrefix(r.Message, "Authorization")
	}})
	tr := &curlhttp.Transport{Logger: logger}
	defer tr.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/private", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// Output:
	// msg="GET /private HTTP/1.1"
	// msg="Authorization: [redacted]"
}

// WithProgress reports a request's progress, throttled; the function runs
// inside libcurl, so it only stores the numbers.
func ExampleWithProgress() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 1000000))
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()

	var total atomic.Int64
	ctx := curlhttp.WithProgress(context.Background(), 100*time.Millisecond, func(p curlpoll.Progress) error {
		total.Store(p.DownloadTotal)
		return nil
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println("read", n, "bytes")
	// Output:
	// read 1000000 bytes
}
