package curlhttp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// traceLog records the hooks a ClientTrace sees, as short strings.
type traceLog struct {
	mu     sync.Mutex
	events []string
	conns  []httptrace.GotConnInfo
	tls    []tls.ConnectionState
}

func (l *traceLog) add(format string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *traceLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(hostPort string) { l.add("GetConn %s", hostPort) },
		GotConn: func(i httptrace.GotConnInfo) {
			l.mu.Lock()
			l.conns = append(l.conns, i)
			l.mu.Unlock()
			l.add("GotConn reused=%v", i.Reused)
		},
		DNSStart: func(i httptrace.DNSStartInfo) { l.add("DNSStart %s", i.Host) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			var a []string
			for _, ip := range i.Addrs {
				a = append(a, ip.String())
			}
			l.add("DNSDone %s %v", strings.Join(a, ","), i.Err)
		},
		ConnectStart: func(network, addr string) { l.add("ConnectStart %s %s", network, addr) },
		ConnectDone: func(network, addr string, err error) {
			l.add("ConnectDone %s %s err=%v", network, addr, err != nil)
		},
		TLSHandshakeStart: func() { l.add("TLSHandshakeStart") },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			l.mu.Lock()
			l.tls = append(l.tls, cs)
			l.mu.Unlock()
			l.add("TLSHandshakeDone err=%v", err != nil)
		},
		WroteHeaders:         func() { l.add("WroteHeaders") },
		WroteRequest:         func(i httptrace.WroteRequestInfo) { l.add("WroteRequest err=%v", i.Err != nil) },
		GotFirstResponseByte: func() { l.add("GotFirstResponseByte") },
		Wait100Continue:      func() { l.add("Wait100Continue") },
		Got100Continue:       func() { l.add("Got100Continue") },
		PutIdleConn:          func(err error) { l.add("PutIdleConn err=%v", err != nil) },
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			l.add("Got1xxResponse %d %v", code, h["Link"])
			return nil
		},
	}
}

// traceHandler serves the trace tests:
//
//	/         "ok"
//	/early    a 103 with a Link, then "ok"
//	/upload   reads the body, then "ok"
func traceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/early" {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
}

// traceRun runs requests one after the other on rt, each with a fresh
// traceLog, and returns the logs.
func traceRun(t *testing.T, rt http.RoundTripper, reqs ...func() *http.Request) []*traceLog {
	t.Helper()
	var logs []*traceLog
	for _, mk := range reqs {
		l := &traceLog{}
		req := mk()
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), l.trace()))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		logs = append(logs, l)
	}
	return logs
}

// compareTraces runs the requests on net/http's Transport and on curlpoll's
// and checks that the hooks come in the same order with the same arguments.
func compareTraces(t *testing.T, std *http.Transport, ours *curlhttp.Transport, reqs ...func() *http.Request) ([]*traceLog, []*traceLog) {
	t.Helper()
	defer std.CloseIdleConnections()
	defer ours.Close()
	want := traceRun(t, std, reqs...)
	got := traceRun(t, ours, reqs...)
	for i := range want {
		w, g := normalizeTrace(want[i].list()), normalizeTrace(got[i].list())
		if strings.Join(w, "\n") != strings.Join(g, "\n") {
			t.Errorf("request %d:\nnet/http:\n\t%s\ncurlpoll:\n\t%s", i, strings.Join(w, "\n\t"), strings.Join(g, "\n\t"))
		}
	}
	return want, got
}

// normalizeTrace puts WroteRequest before GotFirstResponseByte, and before
// a Got1xxResponse, when they are adjacent: net/http calls them from two
// goroutines, in either order, when a server answers as soon as it has read
// the body, or while the body that its 100 Continue asked for is written;
// curlpoll's order depends on what libcurl reads in one call. Its HTTP/2
// client may even report the first response byte before WroteHeaders;
// curlpoll reports it after. net/http's HTTP/1 client calls
// Wait100Continue after WroteHeaders on its writing goroutine, while its
// reading one may already report the 100 Continue: it goes right after
// WroteHeaders, where curlpoll reports it.
func normalizeTrace(events []string) []string {
	if i, j := slices.Index(events, "Wait100Continue"), slices.Index(events, "WroteHeaders"); i > j+1 && j >= 0 {
		events = slices.Insert(slices.Delete(events, i, i+1), j+1, "Wait100Continue")
	}
	if i, j := slices.Index(events, "GotFirstResponseByte"), slices.Index(events, "WroteHeaders"); i >= 0 && j > i {
		events = slices.Insert(slices.Delete(events, i, i+1), j, "GotFirstResponseByte")
	}
	for i := 0; i+1 < len(events); i++ {
		if (events[i] == "GotFirstResponseByte" || strings.HasPrefix(events[i], "Got1xxResponse")) && strings.HasPrefix(events[i+1], "WroteRequest") {
			events[i], events[i+1] = events[i+1], events[i]
		}
	}
	return events
}

func get(url string) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		return req
	}
}

func TestTraceHTTP1(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	named := strings.Replace(srv.URL, "127.0.0.1", "curlpoll.test", 1)
	post := func() *http.Request {
		req, _ := http.NewRequest("POST", srv.URL+"/upload", strings.NewReader(strings.Repeat("x", 100000)))
		return req
	}
	_, got := compareTraces(t, &http.Transport{}, &curlhttp.Transport{},
		get(srv.URL+"/"), get(srv.URL+"/"), post, get(named+"/"), get(srv.URL+"/early"))
	// GotConn's Conn carries the connection's addresses.
	c := got[0].conns[0].Conn
	if c.RemoteAddr().String() != srv.Listener.Addr().String() || c.LocalAddr().(*net.TCPAddr).Port == 0 {
		t.Errorf("GotConn addresses %v -> %v", c.LocalAddr(), c.RemoteAddr())
	}
	if got[1].conns[0].Conn.LocalAddr().String() != c.LocalAddr().String() {
		t.Errorf("reused connection has another local address")
	}
}

func TestTraceExpectContinue(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	post := func() *http.Request {
		req, _ := http.NewRequest("PUT", srv.URL+"/upload", strings.NewReader(strings.Repeat("x", 100000)))
		req.Header.Set("Expect", "100-continue")
		return req
	}
	compareTraces(t, &http.Transport{ExpectContinueTimeout: 5 * time.Second},
		&curlhttp.Transport{ExpectContinueTimeout: 5 * time.Second}, post)
}

// TestTracePutIdleConn: net/http calls PutIdleConn when an HTTP/1
// connection goes back to its idle pool after a response (read to its
// end, or without a body), and not when the connection closes after it;
// Wait100Continue once a request with "Expect: 100-continue" has its
// header written, even with no ExpectContinueTimeout. The Transport called
// neither: otelhttptrace ends its http.receive span in PutIdleConn, and
// the span was never ended.
func TestTracePutIdleConn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/close":
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	expect := func() *http.Request {
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("body"))
		req.Header.Set("Expect", "100-continue")
		return req
	}
	reqs := []func() *http.Request{get(srv.URL + "/"), get(srv.URL + "/empty"), get(srv.URL + "/close"), get(srv.URL + "/")}
	compareTraces(t, &http.Transport{}, &curlhttp.Transport{}, reqs...)
	compareTraces(t, &http.Transport{DisableKeepAlives: true}, &curlhttp.Transport{DisableKeepAlives: true}, reqs...)
	// Without ExpectContinueTimeout the body goes out at once, and whether
	// the 100 Continue is seen before it is written depends on timing:
	// only Wait100Continue's place is compared.
	tr := &curlhttp.Transport{}
	defer tr.Close()
	events := traceRun(t, tr, expect)[0].list()
	if i := slices.Index(events, "WroteHeaders"); i < 0 || i+1 >= len(events) || events[i+1] != "Wait100Continue" {
		t.Errorf("Expect: 100-continue without ExpectContinueTimeout:\n\t%s", strings.Join(events, "\n\t"))
	}
}

func TestTraceTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			srv := httptest.NewUnstartedServer(traceHandler())
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			std := srv.Client().Transport.(*http.Transport).Clone()
			ours := &curlhttp.Transport{CAPEM: serverCAPEM(srv), ForceAttemptHTTP2: true,
				TLSClientConfig: &tls.Config{}}
			if !h2 {
				std.ForceAttemptHTTP2 = false
				std.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				ours.TLSNextProto = std.TLSNextProto
			}
			want, got := compareTraces(t, std, ours, get(srv.URL+"/"), get(srv.URL+"/"))
			if len(got[0].tls) != 1 || len(want[0].tls) != 1 {
				t.Fatalf("TLS states: %d, want %d", len(got[0].tls), len(want[0].tls))
			}
			g, w := got[0].tls[0], want[0].tls[0]
			// Without HTTP/2 libcurl still offers ALPN "http/1.1"; net/http
			// offers nothing.
			if g.Version != w.Version || g.CipherSuite != w.CipherSuite || (h2 && g.NegotiatedProtocol != w.NegotiatedProtocol) ||
				len(g.PeerCertificates) != len(w.PeerCertificates) || !g.HandshakeComplete {
				t.Errorf("TLS state: version %x cipher %x alpn %q certs %d; net/http: %x %x %q %d",
					g.Version, g.CipherSuite, g.NegotiatedProtocol, len(g.PeerCertificates),
					w.Version, w.CipherSuite, w.NegotiatedProtocol, len(w.PeerCertificates))
			}
		})
	}
}

func TestTraceConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	run := func(rt http.RoundTripper) []string {
		l := &traceLog{}
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), l.trace()))
		if _, err := rt.RoundTrip(req); err == nil {
			t.Fatal("no error")
		}
		return l.list()
	}
	ours := &curlhttp.Transport{}
	defer ours.Close()
	want, got := run(&http.Transport{}), run(ours)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("net/http:\n\t%s\ncurlpoll:\n\t%s", strings.Join(want, "\n\t"), strings.Join(got, "\n\t"))
	}
}

func TestTraceGot1xxError(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	stop := errors.New("no early hints, thanks")
	for _, rt := range []http.RoundTripper{&http.Transport{}, &curlhttp.Transport{}} {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(int, textproto.MIMEHeader) error { return stop },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/early", nil)
		if _, err := rt.RoundTrip(req); !errors.Is(err, stop) {
			t.Errorf("%T: RoundTrip = %v, want %v", rt, err, stop)
		}
		if c, ok := rt.(interface{ Close() error }); ok {
			c.Close()
		} else {
			rt.(*http.Transport).CloseIdleConnections()
		}
	}
}

// TestTraceHooksOffDriver checks that a hook that blocks holds up only its
// own request: the hooks run on the request's goroutine, not libcurl's.
func TestTraceHooksOffDriver(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	release := make(chan struct{})
	blocked := make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { close(blocked); <-release },
	})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-blocked
	// Another request on the same Transport goes through meanwhile.
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	resp, err := tr.RoundTrip(req)
	must(t, err)
	resp.Body.Close()
	close(release)
	must(t, <-done)
}

func TestTransportLogger(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	var h recordHandler
	tr := &curlhttp.Transport{Logger: slog.New(&h)}
	defer tr.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer top-secret")
	resp, err := tr.RoundTrip(req)
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	all := strings.Join(h.Lines(), "\n")
	if strings.Contains(all, "top-secret") || !strings.Contains(all, "Authorization: [redacted]") {
		t.Errorf("records:\n%s", all)
	}
	for _, want := range []string{"text ", "header-out ", "header-in ", "GET / HTTP/1.1", "HTTP/1.1 200 OK", "left intact"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in records:\n%s", want, all)
		}
	}
}

func TestResponseInfo(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	var infos []curlpoll.TransferInfo
	for _, method := range []string{"GET", "HEAD", "GET"} {
		req, _ := http.NewRequest(method, srv.URL+"/", nil)
		resp, err := tr.RoundTrip(req)
		must(t, err)
		if method == "GET" {
			if _, ok := curlhttp.ResponseInfo(resp); ok {
				// Allowed only if the transfer already ended.
				t.Log("info before the body was read")
			}
			io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		info, ok := curlhttp.ResponseInfo(resp)
		if !ok {
			t.Fatalf("%s: no info", method)
		}
		infos = append(infos, info)
	}
	for i, info := range infos {
		if info.RemoteAddr.String() != srv.Listener.Addr().String() || info.Total <= 0 ||
			info.StartTransfer > info.Total || info.Reused != (i > 0) {
			t.Errorf("%d: %+v", i, info)
		}
	}
	if _, ok := curlhttp.ResponseInfo(&http.Response{}); ok {
		t.Error("info for a response curlpoll did not make")
	}
}

// TestResponseInfoForgets checks that ResponseInfo's record of a response
// goes once the response is garbage: a program that makes many requests
// and keeps none holds none of their transfers.
func TestResponseInfoForgets(t *testing.T) {
	srv := httptest.NewServer(traceHandler())
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	held := curlhttp.ResponsesHeld()
	const n = 200
	all := make([]*http.Response, 0, n) // alive until counted
	for i := range n {
		method := "GET"
		if i%2 == 1 {
			method = "HEAD" // http.NoBody: found by the registry only
		}
		req, _ := http.NewRequest(method, srv.URL+"/", nil)
		resp, err := tr.RoundTrip(req)
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		all = append(all, resp)
	}
	if got := curlhttp.ResponsesHeld(); got < n {
		t.Fatalf("%d responses held with %d alive: the test sees no registry", got, n)
	}
	kept := []*http.Response{all[0], all[1], all[2]}
	all = nil
	// Each collection finds the dropped responses; their records go after
	// it, in a sweep that the collection starts.
	deadline := time.Now().Add(10 * time.Second)
	for curlhttp.ResponsesHeld() > held+len(kept) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := curlhttp.ResponsesHeld(); got > held+len(kept) {
		t.Errorf("%d responses held after the collections, want at most %d", got, held+len(kept))
	}
	for i, resp := range kept {
		if _, ok := curlhttp.ResponseInfo(resp); !ok {
			t.Errorf("kept response %d: no info", i)
		}
	}
}

func TestTransportWithProgress(t *testing.T) {
	srv := testServer(t)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	var mu sync.Mutex
	var last curlpoll.Progress
	calls := 0
	ctx := curlhttp.WithProgress(context.Background(), 20*time.Millisecond, func(p curlpoll.Progress) error {
		mu.Lock()
		calls++
		last = p
		mu.Unlock()
		return nil
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stall-body?n=300000", nil)
	resp, err := tr.RoundTrip(req)
	must(t, err)
	buf := make([]byte, 300000)
	_, err = io.ReadFull(resp.Body, buf)
	must(t, err)
	// The server stalls now; libcurl still calls about once a second.
	for i := 0; i < 300; i++ {
		mu.Lock()
		n := last.Downloaded
		mu.Unlock()
		if n == 300000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp.Body.Close()
	mu.Lock()
	if calls == 0 || last.Downloaded != 300000 || last.DownloadTotal != 300001 {
		t.Errorf("%d calls, last %+v", calls, last)
	}
	mu.Unlock()

	// An error aborts the request, and the body's Read returns it.
	stop := errors.New("stop here")
	ctx = curlhttp.WithProgress(context.Background(), 0, func(p curlpoll.Progress) error {
		if p.Downloaded > 100000 {
			return stop
		}
		return nil
	})
	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/bytes?n=50000000", nil)
	resp, err = tr.RoundTrip(req)
	must(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !errors.Is(err, stop) {
		t.Errorf("body read: %v, want %v", err, stop)
	}
}
