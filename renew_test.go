package curlpoll_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/curlpoll/curlpoll"
)

// headerDangles is libcurl's curl#11101 (7.83.0 up to 8.0.1): a handle
// keeps a pointer to the last header line it stored after freeing it.
func headerDangles() bool { return !libcurlAtLeast(8, 1) }

// foldingServer answers every request on a kept-alive connection; every
// second response starts its header block with a space-led line, an
// obsolete line folding with nothing to fold onto. libcurl before 8.1.0
// appends such a line to the last line the handle stored in an earlier
// transfer, which it has freed (curl#11101).
func foldingServer(t *testing.T) *rawServer {
	var n atomic.Int32
	return newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			var err2 error
			if n.Add(1)%2 == 0 {
				_, err2 = io.WriteString(c, "HTTP/1.1 200 OK\r\n  X-Folded: "+strings.Repeat("v", 200)+"\r\nContent-Length: 2\r\n\r\nno")
			} else {
				_, err2 = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-A: %s\r\nX-B: b\r\nContent-Length: 2\r\n\r\nok", strings.Repeat("a", 300))
			}
			if err2 != nil {
				return
			}
		}
	})
}

// TestFoldedFirstHeaderLineOnReusedHandle runs one Easy against a server
// whose every second response starts with a folded line. Before 8.1.0
// libcurl would write to freed memory (the test binary crashed, or the heap
// was corrupted); the Easy starts each transfer after one with headers on a
// fresh duplicate of its handle instead, where the folded responses fail
// (net/http refuses them too); the others succeed. From 8.1.0 libcurl
// takes the line without its blanks, on the same handle throughout.
func TestFoldedFirstHeaderLineOnReusedHandle(t *testing.T) {
	srv := foldingServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	addrs := map[uintptr]bool{}
	for i := 1; i <= 20; i++ {
		var body bytes.Buffer
		must(t, e.SetWriter(&body))
		err := m.Do(context.Background(), e)
		addrs[e.HandleAddr()] = true
		if i%2 == 0 && headerDangles() {
			// On the fresh handle libcurl finds nothing to fold onto.
			if err == nil {
				t.Fatalf("request %d: a response that starts with a folded line: no error, body %q", i, body.String())
			}
			continue
		}
		if i%2 == 0 {
			// From 8.1.0 libcurl passes the line on without its blanks.
			if err != nil || body.String() != "no" {
				t.Fatalf("request %d: %v, body %q", i, err, body.String())
			}
			continue
		}
		if err != nil || body.String() != "ok" {
			t.Fatalf("request %d: %v, body %q", i, err, body.String())
		}
	}
	// net/http refuses the folded response too.
	c := &http.Client{}
	defer c.CloseIdleConnections()
	for i := 1; i <= 2; i++ {
		resp, err := c.Get(srv.URL())
		if i%2 == 0 && err == nil {
			resp.Body.Close()
			t.Errorf("net/http took the folded response")
		}
		if i%2 == 1 {
			must(t, err)
			resp.Body.Close()
		}
	}
	// The handle is renewed before libcurl 8.1.0, after each transfer
	// that got headers, and kept from 8.1.0.
	if want := headerDangles(); (len(addrs) > 1) != want {
		t.Errorf("%d handle addresses over 20 transfers; renewing: %v", len(addrs), want)
	}
}

// TestRenewedHandleKeepsItsState checks what a renewed handle (libcurl
// before 8.1.0; from 8.1.0 the same handle runs every transfer) carries
// over from one transfer to the next, each of which a duplicate handle
// alone (curl_easy_duphandle) would lose or break.
func TestRenewedHandleKeepsItsState(t *testing.T) {
	m := newMulti(t)
	ctx := context.Background()

	t.Run("cookies in memory", func(t *testing.T) {
		srv := cookieServer(t)
		e := newEasy(t, srv.URL+"/set")
		must(t, e.SetCookieFile("")) // the engine, no file
		must(t, m.Do(ctx, e))
		for i := 0; i < 3; i++ {
			got := getBody(t, m, e, srv.URL+"/get")
			if got != "abc123" {
				t.Fatalf("transfer %d after the cookie was set sent %q", i+2, got)
			}
		}
	})

	t.Run("cookies in a Share", func(t *testing.T) {
		srv := cookieServer(t)
		sh, err := curlpoll.NewShare(curlpoll.ShareCookies)
		must(t, err)
		e := newEasy(t, srv.URL+"/set")
		t.Cleanup(func() { e.Close(); sh.Close() })
		must(t, e.SetCookieFile(""))
		must(t, e.SetShare(sh))
		must(t, m.Do(ctx, e))
		if got := getBody(t, m, e, srv.URL+"/get"); got != "abc123" {
			t.Fatalf("second transfer sent %q", got)
		}
		other := newEasy(t, srv.URL+"/get")
		must(t, other.SetCookieFile(""))
		must(t, other.SetShare(sh))
		if got := getBody(t, m, other, srv.URL+"/get"); got != "abc123" {
			t.Fatalf("another Easy on the Share sent %q", got)
		}
		must(t, other.Close())
	})

	t.Run("MIME form", func(t *testing.T) {
		got := make(chan string, 8)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- r.FormValue("field")
		}))
		defer srv.Close()
		e := newEasy(t, srv.URL)
		mf := curlpoll.NewMIME()
		mf.AddBytes("field", []byte("value"))
		must(t, e.SetMIMEPost(mf))
		for i := 1; i <= 3; i++ {
			must(t, m.Do(ctx, e))
			if v := <-got; v != "value" {
				t.Fatalf("transfer %d: the server got field %q", i, v)
			}
		}
	})

	t.Run("HSTS file", func(t *testing.T) {
		srv, ca := hstsServer(t)
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		hsts := filepath.Join(t.TempDir(), "hsts.txt")
		e := newEasy(t, fmt.Sprintf("https://example.com:%d/", port))
		must(t, e.SetResolve([]string{fmt.Sprintf("example.com:%d:127.0.0.1", port)}))
		must(t, e.SetCAInfoBlob(ca))
		must(t, e.SetHSTSFile(hsts))
		must(t, m.Do(ctx, e))
		// An http URL of the host now goes out as https, to the same port:
		// a plain request to the TLS server would get a 400.
		for i := 0; i < 3; i++ {
			must(t, e.SetURL(fmt.Sprintf("http://example.com:%d/", port)))
			must(t, m.Do(ctx, e))
			if code, _ := e.ResponseCode(); code != 200 {
				t.Fatalf("http URL after the HSTS header, transfer %d: status %d", i+2, code)
			}
		}
		must(t, e.Close())
		if b, err := os.ReadFile(hsts); err != nil || !bytes.Contains(b, []byte("example.com")) {
			t.Errorf("HSTS file: %q, %v", b, err)
		}
	})

	t.Run("HSTS in memory only", func(t *testing.T) {
		srv, ca := hstsServer(t)
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		e := newEasy(t, fmt.Sprintf("https://example.com:%d/", port))
		must(t, e.SetResolve([]string{fmt.Sprintf("example.com:%d:127.0.0.1", port)}))
		must(t, e.SetCAInfoBlob(ca))
		must(t, e.SetOptionLong(curlpoll.Option(optHSTSCtrl(t)), 1)) // CURLHSTS_ENABLE, no file
		must(t, m.Do(ctx, e))
		must(t, e.SetURL(fmt.Sprintf("http://example.com:%d/", port)))
		err := m.Do(ctx, e)
		if headerDangles() {
			// The cache cannot go over to a fresh handle: refused, not dropped.
			if err == nil || !strings.Contains(err.Error(), "HSTS") {
				t.Fatalf("reusing a handle with an HSTS cache in memory only: %v", err)
			}
			return
		}
		must(t, err)
		if code, _ := e.ResponseCode(); code != 200 {
			t.Fatalf("http URL after the HSTS header: status %d", code)
		}
	})
}

func optHSTSCtrl(t *testing.T) curlpoll.Option {
	o, err := curlpoll.OptionByName("HSTS_CTRL")
	must(t, err)
	return o
}

// cookieServer sets a cookie at /set and echoes it at /get.
func cookieServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc123", HttpOnly: true})
			return
		}
		if c, err := r.Cookie("session"); err == nil {
			io.WriteString(w, c.Value)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hstsServer is a TLS server that asks for HSTS; ca trusts it.
func hstsServer(t *testing.T) (*httptest.Server, []byte) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=3600")
	}))
	t.Cleanup(srv.Close)
	return srv, serverCAPEM(srv)
}

// getBody runs e on url and returns the body.
func getBody(t *testing.T, m *curlpoll.Multi, e *curlpoll.Easy, url string) string {
	t.Helper()
	var body bytes.Buffer
	must(t, e.SetURL(url))
	must(t, e.SetWriter(&body))
	if err := m.Do(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return body.String()
}
