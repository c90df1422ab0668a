package curlhttp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/testutil"
)

func TestTransportErrors(t *testing.T) {
	tr := &curlhttp.Transport{}
	defer tr.Close()

	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		_, err := tr.RoundTrip(mustReq("GET", "http://"+addr, nil))
		var ce *curlpoll.Error
		if !errors.As(err, &ce) || ce.Code != curlpoll.ErrCouldntConnect {
			t.Errorf("err = %v", err)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("not ECONNREFUSED: %v", err)
		}
	})

	t.Run("DNS failure", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://no-such-host.invalid/", nil)
		_, err := tr.RoundTrip(req)
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !errors.Is(err, curlpoll.ErrCouldntResolveHost) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("server reset", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
		_, err := tr.RoundTrip(mustReq("GET", "http://"+ln.Addr().String(), nil))
		var ce *curlpoll.Error
		if !errors.As(err, &ce) {
			t.Errorf("err = %v", err)
		}
	})

	// A control byte in a response header line (libcurl passes a bare CR
	// or a NUL on): refused, as net/http refuses it.
	for _, bad := range []string{"a\x00b", "a\rb", "a\x01b", "a\x7fb"} {
		t.Run(fmt.Sprintf("response header with %q", bad), func(t *testing.T) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					bufio.NewReader(c).ReadString('\n')
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Long-Enough-To-Span-Words: "+bad+"\r\nX-Ok: 1\r\n\r\nok")
					c.Close()
				}
			}()
			url := "http://" + ln.Addr().String()
			if resp, err := http.DefaultTransport.RoundTrip(mustReq("GET", url, nil)); err == nil {
				resp.Body.Close()
				t.Skip("net/http takes it too")
			}
			resp, err := tr.RoundTrip(mustReq("GET", url, nil))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("accepted: header %q", resp.Header)
			}
			var ce *curlpoll.Error
			switch {
			case errors.As(err, &ce) && ce.Code == curlpoll.ErrWeirdServerReply:
				// libcurl refused it itself (a NUL, on some versions).
			case !strings.Contains(err.Error(), "malformed MIME header line") || !strings.Contains(err.Error(), "X-Long-Enough"):
				t.Errorf("err = %v, want the malformed line named", err)
			}
		})
	}

	t.Run("response header timeout", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
		defer srv.Close()
		defer close(block)
		tr := &curlhttp.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
		defer tr.Close()
		_, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("connect timeout", func(t *testing.T) {
		// A listener whose backlog is full does not complete handshakes.
		// Not portable enough to rely on: check only that the option is
		// accepted and a fast connect still works.
		tr := &curlhttp.Transport{TLSHandshakeTimeout: time.Second}
		defer tr.Close()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("header too large", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Big", strings.Repeat("b", 8000))
		}))
		defer srv.Close()
		tr := &curlhttp.Transport{MaxResponseHeaderBytes: 4096}
		defer tr.Close()
		_, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err == nil || !strings.Contains(err.Error(), "exceeded 4096 bytes") {
			t.Errorf("err = %v", err)
		}
		tr.MaxResponseHeaderBytes = 0 // default 10 MB
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("cancel before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:1/", nil)
		if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("proxy func error", func(t *testing.T) {
		boom := errors.New("boom")
		tr := &curlhttp.Transport{Proxy: func(*http.Request) (*url.URL, error) { return nil, boom }}
		defer tr.Close()
		body := &closeCounter{Reader: strings.NewReader("x")}
		req := mustReq("POST", "http://127.0.0.1:1/", nil)
		req.Body = body
		if _, err := tr.RoundTrip(req); !errors.Is(err, boom) || body.n.Load() != 1 {
			t.Errorf("err = %v, closes %d", err, body.n.Load())
		}
	})
}

func TestTransportBodyLifecycle(t *testing.T) {
	big := strings.Repeat("z", 8<<20)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/slow":
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			io.WriteString(w, "ok")
		}
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	base := openFDs(t)
	tr := &curlhttp.Transport{}

	t.Run("close before EOF aborts", func(t *testing.T) {
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL+"/big", nil))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1000)
		io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		resp.Body.Close()
		if _, err := resp.Body.Read(buf); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("read after close: %v", err)
		}
		// The next request works on a new connection.
		n := conns.Load()
		resp, err = tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if conns.Load() != n+1 {
			t.Errorf("the aborted connection was reused")
		}
	})

	t.Run("read after cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		io.ReadFull(resp.Body, buf)
		errc := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(buf)
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("blocked read: %v", err)
		}
		if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v", err)
		}
		resp.Body.Close()
	})

	t.Run("keep-alive reuse", func(t *testing.T) {
		tr.CloseIdleConnections()
		n := conns.Load()
		for range 10 {
			resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if got := conns.Load() - n; got != 1 {
			t.Errorf("%d connections for 10 sequential requests", got)
		}
	})

	t.Run("WriteTo", func(t *testing.T) {
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL+"/big", nil))
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		n, err := io.Copy(&sb, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(big)) || sb.String() != big {
			t.Errorf("%d bytes, %v", n, err)
		}
	})

	tr.Close()
	srv.CloseClientConnections()
	waitFDs(t, base)
}

func TestTransportDisableKeepAlives(t *testing.T) {
	var conns atomic.Int32
	var closeHdr atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			closeHdr.Add(1)
		}
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := &curlhttp.Transport{DisableKeepAlives: true}
	defer tr.Close()
	for range 5 {
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if conns.Load() != 5 || closeHdr.Load() != 5 {
		t.Errorf("%d connections, %d with Connection: close", conns.Load(), closeHdr.Load())
	}
}

func TestTransportMaxConnsPerHost(t *testing.T) {
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
	}))
	srv.Config.ConnState = cc.track
	srv.Start()
	defer srv.Close()
	tr := &curlhttp.Transport{MaxConnsPerHost: 2}
	defer tr.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if p := cc.peak.Load(); p > 2 {
		t.Errorf("%d connections at once", p)
	}
}

// TestTransportSpreadsOverMultis: requests made one at a time, or two at
// once, stay on one Multi and reuse its connections; more in flight at
// once spread over as many Multis as GOMAXPROCS and the idle bound allow
// (each Multi one driver goroutine), which keep the idle bound between
// them and are all used afterwards; MaxConnsPerHost keeps one Multi with
// all of its connections in use.
func TestTransportSpreadsOverMultis(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var cc connCounter
	var mu sync.Mutex
	used := map[string]bool{} // the connections requests came on
	var hold atomic.Pointer[chan struct{}]
	arrived := make(chan struct{}, 64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		used[r.RemoteAddr] = true
		mu.Unlock()
		if h := hold.Load(); h != nil {
			arrived <- struct{}{}
			select {
			case <-*h:
			case <-time.After(20 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = cc.track
	srv.Start()
	defer srv.Close()
	get := func(tr *curlhttp.Transport) error {
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	// burst runs n requests held at the server until all have arrived.
	burst := func(tr *curlhttp.Transport, n, arrive int) (multis int) {
		release := make(chan struct{})
		hold.Store(&release)
		defer hold.Store(nil)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if err := get(tr); err != nil {
					t.Error(err)
				}
			})
		}
		for range arrive {
			select {
			case <-arrived:
			case <-time.After(20 * time.Second):
				t.Fatal("the requests did not arrive")
			}
		}
		multis = curlhttp.Multis(tr)
		close(release)
		wg.Wait()
		for len(arrived) > 0 {
			<-arrived
		}
		return multis
	}

	tr := &curlhttp.Transport{}
	for range 20 {
		must(t, get(tr))
	}
	if m, c := curlhttp.Multis(tr), cc.total.Load(); m != 1 || c != 1 {
		t.Errorf("20 requests one at a time: %d Multis, %d connections; want 1 and 1", m, c)
	}
	// Two at a time, ten times: one Multi, whose idle bound (2, net/http's
	// MaxIdleConnsPerHost) keeps both connections.
	for range 10 {
		if m := burst(tr, 2, 2); m != 1 {
			t.Fatalf("2 requests at once: %d Multis, want 1", m)
		}
	}
	if c := cc.total.Load(); c != 2 {
		t.Errorf("10 rounds of 2 requests at once opened %d connections in all, want 2", c)
	}
	// The idle bound, 2 by default, bounds the Multis to two (one idle
	// connection each).
	if m := burst(tr, 12, 12); m != 2 {
		t.Errorf("12 requests at once: %d Multis, want 2", m)
	}
	waitOpen := func(n int32) int32 {
		deadline := time.Now().Add(10 * time.Second)
		for cc.open.Load() > n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		return cc.open.Load()
	}
	if o := waitOpen(2); o != 2 {
		t.Errorf("%d connections left open after the burst, want 2 (MaxIdleConnsPerHost's default)", o)
	}
	// One at a time again: the two Multis take turns, each reusing its idle
	// connection; none stays idle unused.
	before := cc.total.Load()
	mu.Lock()
	clear(used)
	mu.Unlock()
	for range 20 {
		must(t, get(tr))
	}
	mu.Lock()
	u := len(used)
	mu.Unlock()
	if c := cc.total.Load() - before; c != 0 || u != 2 {
		t.Errorf("20 requests one at a time after the burst: %d connections opened, %d used; want 0 and 2", c, u)
	}
	// A host first met after the burst: one Multi serves it, with one
	// connection, as net/http's one pool would.
	var cc2 connCounter
	srv2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv2.Config.ConnState = cc2.track
	srv2.Start()
	defer srv2.Close()
	for range 20 {
		resp, err := tr.RoundTrip(mustReq("GET", srv2.URL, nil))
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if c := cc2.total.Load(); c != 1 {
		t.Errorf("20 requests one at a time to a new host after the burst opened %d connections, want 1", c)
	}
	tr.Close()
	waitOpen(0)

	// MaxConnsPerHost keeps one Multi, and all of its connections in use:
	// 3 requests at once reach the server at once, 12 use 3 connections.
	cc.peak.Store(cc.open.Load())
	tr = &curlhttp.Transport{MaxConnsPerHost: 3, MaxIdleConnsPerHost: 8}
	defer tr.Close()
	if m := burst(tr, 3, 3); m != 1 {
		t.Errorf("MaxConnsPerHost 3, 3 requests: %d Multis, want 1", m)
	}
	if m := burst(tr, 12, 3); m != 1 {
		t.Errorf("MaxConnsPerHost 3, 12 requests: %d Multis, want 1", m)
	}
	if p := cc.peak.Load(); p != 3 {
		t.Errorf("MaxConnsPerHost 3: %d connections at most at once, want 3", p)
	}
}

func TestTransportStreamingUpload(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Echo each line as it comes, so the client sees the upload stream.
		http.NewResponseController(w).EnableFullDuplex()
		fmt.Fprintf(w, "te=%v cl=%d\n", r.TransferEncoding, r.ContentLength)
		w.(http.Flusher).Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			fmt.Fprintln(w, "got", sc.Text())
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()

	pr, pw := io.Pipe()
	req := mustReq("POST", srv.URL, nil)
	req.Body, req.ContentLength = pr, -1
	errc := make(chan error, 1)
	var resp *http.Response
	go func() {
		var err error
		resp, err = tr.RoundTrip(req)
		errc <- err
	}()
	fmt.Fprintln(pw, "line 1")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	if l, _ := rd.ReadString('\n'); l != "te=[chunked] cl=-1\n" {
		t.Errorf("first line %q", l)
	}
	if l, _ := rd.ReadString('\n'); l != "got line 1\n" {
		t.Errorf("%q", l)
	}
	fmt.Fprintln(pw, "line 2") // sent while the response streams
	if l, _ := rd.ReadString('\n'); l != "got line 2\n" {
		t.Errorf("%q", l)
	}
	pw.Close()
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		t.Errorf("%q %v", rest, err)
	}
	resp.Body.Close()
}

// TestTransportUploadAbandoned checks that a request body that never ends
// is closed, and its reader freed, when the response is closed.
func TestTransportUploadAbandoned(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answer without waiting for the body, as net/http's server does
		// not by default.
		http.NewResponseController(w).EnableFullDuplex()
		io.WriteString(w, "not reading your body")
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	pw2 := pw
	go func() { pw2.Write([]byte("some")) }()
	req := mustReq("PUT", srv.URL, nil)
	req.Body, req.ContentLength = pr, -1
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The body is closed once the Read under way returns (this Write ends
	// it), or 50 ms on: on a goroutine, so that Body.Close does not wait
	// (neither does net/http's; its HTTP/2 client closes the body on a
	// goroutine too).
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := pw.Write([]byte("x"))
		if errors.Is(err, io.ErrClosedPipe) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request body not closed: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTransportProxy(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "target "+r.Host)
	}))
	defer target.Close()

	t.Run("http proxy for http URL", func(t *testing.T) {
		var seenURI atomic.Value
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seenURI.Store(r.RequestURI)
			io.WriteString(w, "from proxy")
		}))
		defer proxy.Close()
		pu, _ := url.Parse(proxy.URL)
		tr := &curlhttp.Transport{Proxy: http.ProxyURL(pu)}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", "http://example.invalid/x?y", nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "from proxy" || seenURI.Load() != "http://example.invalid/x?y" {
			t.Errorf("%q via %v", b, seenURI.Load())
		}
	})

	t.Run("CONNECT proxy", func(t *testing.T) {
		var connects atomic.Int32
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != "CONNECT" {
				http.Error(w, "CONNECT only", 405)
				return
			}
			connects.Add(1)
			up, err := net.Dial("tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			w.WriteHeader(200)
			c, brw, _ := w.(http.Hijacker).Hijack()
			brw.Flush()
			// Read through brw: it may hold the first bytes of the
			// ClientHello, taken by the server's background read.
			go func() { io.Copy(up, brw); up.Close() }()
			io.Copy(c, up)
			c.Close()
		}))
		defer proxy.Close()
		srv, ca := newTLSServer(t, target.Config.Handler)
		pu, _ := url.Parse(proxy.URL)
		tr := &curlhttp.Transport{Proxy: http.ProxyURL(pu), CAPEM: ca}
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.Close()
		proxy.CloseClientConnections()
		if connects.Load() != 1 || !strings.HasPrefix(string(b), "target ") {
			t.Errorf("%q, %d CONNECTs", b, connects.Load())
		}
	})

	t.Run("socks5", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		var wg sync.WaitGroup
		defer wg.Wait()
		defer ln.Close()
		var seenHost atomic.Value
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Go(func() { serveSOCKS5(c, &seenHost) })
			}
		})
		tr := &curlhttp.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: ln.Addr().String()})}
		defer tr.Close()
		// A name only the proxy can resolve: "localhost" there.
		u := strings.Replace(target.URL, "127.0.0.1", "localhost", 1)
		resp, err := tr.RoundTrip(mustReq("GET", u, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.Close()
		if !strings.HasPrefix(string(b), "target localhost:") || seenHost.Load() != "localhost" {
			t.Errorf("%q, proxy saw %v", b, seenHost.Load())
		}
	})

	t.Run("no proxy from environment when Proxy is nil", func(t *testing.T) {
		t.Setenv("http_proxy", "http://127.0.0.1:1")
		t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
		tr := &curlhttp.Transport{}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", target.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("unsupported proxy scheme", func(t *testing.T) {
		tr := &curlhttp.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "ftp", Host: "127.0.0.1:1"})}
		defer tr.Close()
		if _, err := tr.RoundTrip(mustReq("GET", target.URL, nil)); err == nil {
			t.Error("no error")
		}
	})
}

// serveSOCKS5 serves one SOCKS5 CONNECT without authentication (RFC 1928),
// recording the host name asked for.
func serveSOCKS5(c net.Conn, seenHost *atomic.Value) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return
	}
	io.ReadFull(r, make([]byte, hdr[1])) // methods
	c.Write([]byte{5, 0})
	req := make([]byte, 4)
	if _, err := io.ReadFull(r, req); err != nil {
		return
	}
	var host string
	switch req[3] {
	case 1:
		ip := make([]byte, 4)
		io.ReadFull(r, ip)
		host = net.IP(ip).String()
	case 3:
		n, _ := r.ReadByte()
		name := make([]byte, n)
		io.ReadFull(r, name)
		host = string(name)
	default:
		return
	}
	seenHost.Store(host)
	pb := make([]byte, 2)
	io.ReadFull(r, pb)
	if host == "localhost" {
		host = "127.0.0.1"
	}
	up, err := net.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(binary.BigEndian.Uint16(pb))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	c.SetDeadline(time.Time{})
	go func() { io.Copy(up, r); up.Close() }()
	io.Copy(c, up)
}

// TestTransportCloseUnderLoad closes the Transport while many requests
// are in every phase, over HTTP/1.1 and HTTP/2, and checks that each ends
// with a response or an error, and that nothing leaks.
func TestTransportCloseUnderLoad(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("a", 100<<10))
	})
	h1 := httptest.NewServer(h)
	defer h1.Close()
	h2, ca := newTLSServer(t, h)
	base := openFDs(t)

	tr := &curlhttp.Transport{CAPEM: ca}
	var wg sync.WaitGroup
	var ok, closed atomic.Int32
	for i := range 16 {
		u := h1.URL
		if i%2 == 1 {
			u = h2.URL
		}
		wg.Go(func() {
			for range 200 { // bounded
				resp, err := tr.RoundTrip(mustReq("GET", u, nil))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, curlpoll.ErrClosed):
					closed.Add(1)
					return
				default:
					t.Errorf("unexpected error: %v", err)
					return
				}
				if i%4 == 0 {
					tr.CloseIdleConnections()
				}
			}
		})
	}
	// Close once requests are flowing (a loaded machine may take a while
	// to get there), while the others are in every phase.
	for deadline := time.Now().Add(20 * time.Second); ok.Load() < 32 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	tr.Close()
	wg.Wait()
	t.Logf("%d complete, %d stopped by Close", ok.Load(), closed.Load())
	if ok.Load() == 0 {
		t.Error("no request completed")
	}
	h1.CloseClientConnections()
	h2.CloseClientConnections()
	waitFDs(t, base)
}

// TestChunkedResponseEndsBeforeUpload: a server that answers with a chunked
// body (and a trailer) while the request body is still being sent. Over
// HTTP/1.1 libcurl ends its transfer only once the request body is sent in
// full; net/http's response body ends at the last chunk. Both must give the
// whole body and the trailer while the upload is still open, and the
// request body is closed once the response body is.
func TestChunkedResponseEndsBeforeUpload(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answer without reading the request body (Go's server would
		// otherwise read it before writing a response).
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			t.Error(err)
		}
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "early ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "answer")
		w.Header().Set("X-Sum", "42")
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", &http.Transport{}}, {"curlpoll", tr}} {
		t.Run(rt.name, func(t *testing.T) {
			pr, pw := io.Pipe() // a request body that never ends by itself
			defer pw.Close()
			go pw.Write([]byte("the first bytes of an upload"))
			req, err := http.NewRequest("POST", srv.URL, pr)
			must(t, err)
			type result struct {
				body    string
				trailer string
				err     error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := rt.rt.RoundTrip(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				done <- result{string(b), resp.Trailer.Get("X-Sum"), err}
			}()
			select {
			case r := <-done:
				if r.err != nil || r.body != "early answer" || r.trailer != "42" {
					t.Errorf("body %q, trailer %q, err %v; want \"early answer\", 42", r.body, r.trailer, r.err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the response body did not end while the upload was open")
			}
		})
	}
}

// TestTransportRetriesDeadConnectionsForever: a server that drops each
// kept-alive connection when the second request arrives on it, so that
// every other request goes out on a dead connection and is retried on a
// new one, by net/http and by libcurl alike. libcurl before 8.17.0 counts
// those retries over the handle's whole life, not per request, and gives
// up ("Connection died, tried 5 times") once it has made five: a pooled
// handle must not carry the count from request to request.
func TestTransportRetriesDeadConnectionsForever(t *testing.T) {
	ln := serveEach(t, testutil.DropSecondRequest)
	url := "http://" + ln.Addr().String() + "/"
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{}},
		{"curlpoll", &curlhttp.Transport{}},
	} {
		for i := range 16 {
			resp, err := rt.rt.RoundTrip(mustReq("GET", url, nil))
			if err != nil {
				t.Fatalf("%s, request %d: %v", rt.name, i+1, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "ok" {
				t.Fatalf("%s, request %d: body %q, %v", rt.name, i+1, b, err)
			}
		}
		if c, ok := rt.rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		if c, ok := rt.rt.(io.Closer); ok {
			c.Close()
		}
	}
}

// TestTransportFoldedFirstHeaderLine: a server whose every second response
// starts its header block with a space-led line (an obsolete line folding
// with nothing to fold onto). net/http refuses those responses. libcurl
// before 8.1.0 appended the line to the last header line the pooled handle
// had stored for an earlier request, which it had freed (curl#11101): the
// server wrote into the client's freed memory, and the response came back
// as a success. The core starts such a handle's next transfer on a fresh
// duplicate, where libcurl refuses the line; from 8.1.0 libcurl passes it
// on and the Transport refuses it with net/http's error. The other
// responses succeed.
func TestTransportFoldedFirstHeaderLine(t *testing.T) {
	var n atomic.Int32
	ln := serveRequests(t, func(c net.Conn, _ int, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		resp := "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 300) + "\r\nContent-Length: 2\r\n\r\nok"
		if n.Add(1)%2 == 0 {
			resp = "HTTP/1.1 200 OK\r\n  X-Folded: v\r\nContent-Length: 2\r\n\r\nno"
		}
		_, err := io.WriteString(c, resp)
		return err == nil
	})
	url := "http://" + ln.Addr().String() + "/"
	var netErr error
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{}},
		{"curlpoll", &curlhttp.Transport{}},
	} {
		n.Store(0)
		for i := 1; i <= 12; i++ {
			resp, err := rt.rt.RoundTrip(mustReq("GET", url, nil))
			if i%2 == 0 {
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Fatalf("%s, request %d: a response that starts with a folded line came back: %d %q %q", rt.name, i, resp.StatusCode, resp.Header, b)
				}
				if netErr == nil {
					netErr = err
				} else if curlpoll.Version().Number >= 0x080100 && err.Error() != netErr.Error() {
					t.Errorf("%s, request %d: %v; net/http: %v", rt.name, i, err, netErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s, request %d: %v", rt.name, i, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "ok" {
				t.Fatalf("%s, request %d: body %q, %v", rt.name, i, b, err)
			}
		}
		if c, ok := rt.rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		if c, ok := rt.rt.(io.Closer); ok {
			c.Close()
		}
	}
}

// serveEach listens on 127.0.0.1 and runs serve on each connection, on a
// goroutine of its own, closing the connection after it; the listener
// closes when the test ends.
// serveRequests is serveEach with each connection's requests read in
// turn: handle gets the connection, the request's index on it and the
// request, and returns false to stop reading (serveEach then closes c).
func serveRequests(t *testing.T, handle func(c net.Conn, i int, req *http.Request) bool) net.Listener {
	return serveEach(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil || !handle(c, i, req) {
				return
			}
		}
	})
}

// serveReply answers the request of each connection to the URL it
// returns with resp, raw bytes, and closes the connection once the client
// has had 20 ms to take them: with a FIN (nothing is left unread, so no
// reset), or with a reset where rst is set.
func serveReply(t *testing.T, resp string, rst bool) string {
	ln := serveEach(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, resp)
		time.Sleep(20 * time.Millisecond)
		if rst {
			c.(*net.TCPConn).SetLinger(0) // an RST at serveEach's Close
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

func serveEach(t *testing.T, serve func(c net.Conn)) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln
}

// TestTransportDialErrors: a connection that cannot be made fails with
// net/http's *net.OpError (Op "dial"), with the lookup's *net.DNSError or
// the connect call's *os.SyscallError inside, wrapped in one with Op
// "proxyconnect" when it was the proxy that could not be reached; curl's
// *Error stays beside it. Code that tells "could not connect" by
// errors.As(err, &opErr) && opErr.Op == "dial" (go-retryablehttp's test of
// its error handling) found no *net.OpError.
func TestTransportDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	proxyTo := func(u string) func(*http.Request) (*url.URL, error) {
		return func(*http.Request) (*url.URL, error) { return url.Parse(u) }
	}
	for _, tc := range []struct {
		name    string
		url     string
		proxy   func(*http.Request) (*url.URL, error)
		ops     []string // the *net.OpError chain, outermost first
		inner   func(error) bool
		isCurl  curlpoll.Code
		network bool // needs the resolver
	}{
		{name: "connection refused", url: "http://" + closed + "/",
			ops: []string{"dial"},
			inner: func(err error) bool {
				var se *os.SyscallError
				return errors.As(err, &se) && se.Err == syscall.ECONNREFUSED
			},
			isCurl: curlpoll.ErrCouldntConnect},
		{name: "no such host", url: "http://no-such-host.invalid/",
			ops: []string{"dial"},
			inner: func(err error) bool {
				var de *net.DNSError
				return errors.As(err, &de) && de.IsNotFound && de.Name == "no-such-host.invalid"
			},
			isCurl: curlpoll.ErrCouldntResolveHost, network: true},
		{name: "proxy refused", url: "http://example.invalid/", proxy: proxyTo("http://" + closed),
			ops:    []string{"proxyconnect", "dial"},
			inner:  func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) },
			isCurl: curlpoll.ErrCouldntConnect},
		{name: "no such proxy", url: "http://example.invalid/", proxy: proxyTo("http://no-such-proxy.invalid:3128"),
			ops: []string{"proxyconnect", "dial"},
			inner: func(err error) bool {
				var de *net.DNSError
				return errors.As(err, &de) && de.IsNotFound && de.Name == "no-such-proxy.invalid"
			},
			isCurl: curlpoll.ErrCouldntResolveProxy, network: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			std := &http.Transport{Proxy: tc.proxy}
			defer std.CloseIdleConnections()
			cp := &curlhttp.Transport{Proxy: tc.proxy}
			defer cp.Close()
			for _, rt := range []struct {
				name string
				rt   http.RoundTripper
			}{{"net/http", std}, {"curlpoll", cp}} {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", tc.url, nil)
				resp, err := rt.rt.RoundTrip(req)
				cancel()
				if err == nil {
					resp.Body.Close()
					t.Fatalf("%s: no error", rt.name)
				}
				if tc.network && errors.Is(err, context.DeadlineExceeded) {
					t.Skipf("%s: the resolver did not answer: %v", rt.name, err)
				}
				var ops []string
				for e := error(err); ; {
					var oe *net.OpError
					if !errors.As(e, &oe) {
						break
					}
					ops = append(ops, oe.Op)
					e = oe.Err
				}
				if !slices.Equal(ops, tc.ops) || !tc.inner(err) {
					t.Errorf("%s: %v: *net.OpError chain %q, want %q and the cause inside", rt.name, err, ops, tc.ops)
				}
				if rt.name == "curlpoll" && !errors.Is(err, tc.isCurl) {
					t.Errorf("%s: %v: not curl's %v", rt.name, err, tc.isCurl)
				}
			}
		})
	}
}
