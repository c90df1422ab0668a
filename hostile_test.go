package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

// TestSmugglingRefusedBeforeSending sends requests with CR, LF or NUL in
// every part a caller controls, and checks that each is refused before a
// connection is even opened.
func TestSmugglingRefusedBeforeSending(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	base := s.URL(faultserver.OK, faultserver.HTTP1, "")
	u, _ := url.Parse(base)
	bad := []string{"\r\n", "\n", "\r", "\x00"}
	type mk func(inj string) *http.Request
	get := func() *http.Request { r, _ := http.NewRequest("GET", base, nil); return r }
	cases := map[string]mk{
		"method":       func(inj string) *http.Request { r := get(); r.Method = "GET" + inj + "X"; return r },
		"header name":  func(inj string) *http.Request { r := get(); r.Header["X"+inj+"Y"] = []string{"v"}; return r },
		"header value": func(inj string) *http.Request { r := get(); r.Header.Set("X", "a"+inj+"Evil: 1"); return r },
		"Host":         func(inj string) *http.Request { r := get(); r.Host = u.Host + inj + "Evil: 1"; return r },
		"URL host":     func(inj string) *http.Request { r := get(); r.URL.Host = u.Host + inj + "x"; return r },
		"raw query": func(inj string) *http.Request {
			r := get()
			r.URL.RawQuery = "a=1" + inj + "Evil: 1"
			return r
		},
		"opaque": func(inj string) *http.Request {
			r := get()
			r.URL.Opaque = "//" + u.Host + "/ok" + inj + "Evil: 1"
			return r
		},
		"raw path": func(inj string) *http.Request {
			r := get()
			r.URL.Path = "/ok" + inj + "x"
			r.URL.RawPath = "/ok" + inj + "x"
			return r
		},
		"User-Agent":   func(inj string) *http.Request { r := get(); r.Header.Set("User-Agent", "a"+inj+"Evil: 1"); return r },
		"Content-Type": func(inj string) *http.Request { r := get(); r.Header.Set("Content-Type", "a"+inj+"b"); return r },
	}
	for name, mk := range cases {
		for _, inj := range bad {
			before := s.Accepted()
			resp, err := tr.RoundTrip(mk(inj))
			if err == nil {
				resp.Body.Close()
				// An escaped path is not an injection: what was sent
				// must have had the bytes escaped.
				if name == "raw path" {
					continue
				}
				t.Errorf("%s with %q: sent, want refused", name, inj)
				continue
			}
			if s.Accepted() != before {
				t.Errorf("%s with %q: %v, but a connection was opened", name, inj, err)
			}
		}
	}
}

// TestSchemesAndRedirects checks the protective defaults: only http and
// https, no redirect followed by libcurl, credentials in the URL not sent.
func TestSchemesAndRedirects(t *testing.T) {
	checkLeaks(t)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	for _, u := range []string{"ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1/", "dict://127.0.0.1/", "scp://127.0.0.1/x", "HTTP://127.0.0.1:1/"} {
		req, _ := http.NewRequest("GET", u, nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: accepted", u)
		}
	}
	auth := make(chan string, 10)
	srv := newHTTPTestServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://other.invalid/", http.StatusFound)
			return
		}
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1) + "/redirect"
	req, _ := http.NewRequest("GET", u, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d: libcurl followed the redirect", resp.StatusCode)
	}
	if a := <-auth; a != "" || len(auth) != 0 {
		t.Errorf("Authorization sent by the Transport from URL credentials: %q", a)
	}
}

// TestRequestFramingCannotContradictBody sets Content-Length and
// Transfer-Encoding headers that disagree with the body: the server must
// see the body's real framing, never a second request smuggled in it.
func TestRequestFramingCannotContradictBody(t *testing.T) {
	checkLeaks(t)
	type seen struct {
		method, path string
		body         string
		cl           int64
		te           []string
	}
	got := make(chan seen, 10)
	srv := newHTTPTestServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, string(b), r.ContentLength, r.TransferEncoding}
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	smuggled := "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, hdr := range []map[string]string{
		{"Content-Length": "0"},
		{"Content-Length": "5"},
		{"Content-Length": "1000"},
		{"Transfer-Encoding": "chunked"},
		{"Transfer-Encoding": "chunked", "Content-Length": "3"},
		{"Transfer-Encoding": "identity"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/p", strings.NewReader(smuggled))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := tr.RoundTrip(req.WithContext(ctx))
		cancel()
		if err != nil {
			t.Errorf("%v: %v", hdr, err)
			continue
		}
		resp.Body.Close()
		var all []seen
	drain:
		for {
			select {
			case s := <-got:
				all = append(all, s)
			case <-time.After(100 * time.Millisecond):
				break drain
			}
		}
		if len(all) != 1 || all[0].path != "/p" || all[0].body != smuggled || all[0].cl != int64(len(smuggled)) {
			t.Errorf("%v: the server saw %+v, want one POST /p with the %d-byte body", hdr, all, len(smuggled))
		}
	}
}

// TestMaxResponseHeaderBytes checks that a header block over the limit
// fails the request cleanly, below libcurl's own 300 KB limit and above it.
func TestMaxResponseHeaderBytes(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	for _, c := range []struct {
		limit int64
		size  string
	}{{10 << 10, "n=100000"}, {0, "n=1000000"}} {
		tr := &curlhttp.Transport{MaxResponseHeaderBytes: c.limit}
		resp, _, err := roundTrip(context.Background(), &http.Client{Transport: tr}, s.URL(faultserver.HugeHeader, faultserver.HTTP1, c.size))
		if err == nil {
			t.Errorf("limit %d, %s: %s, want an error", c.limit, c.size, resp.Status)
		} else if !strings.Contains(err.Error(), "header") {
			t.Errorf("limit %d, %s: %v, want an error about the header size", c.limit, c.size, err)
		}
		// Under the limit it works.
		if c.limit > 0 {
			_, body, err := roundTrip(context.Background(), &http.Client{Transport: tr}, s.URL(faultserver.HugeHeader, faultserver.HTTP1, "n=5000"))
			if err != nil || string(body) != "ok" {
				t.Errorf("under the limit: %q, %v", body, err)
			}
		}
		tr.Close()
	}
}

// TestEnvironmentIgnored checks that the proxy variables libcurl reads by
// itself change nothing while Transport.Proxy is nil, and (a regression
// test) that an Easy run on a Multi ignores them too: it used to go
// through the proxy that http_proxy named.
func TestEnvironmentIgnored(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	// A "proxy" that would be noticed: every connection to it is counted.
	proxy := newFaultServer(t)
	p := "http://" + strings.TrimPrefix(strings.Split(proxy.URL(faultserver.OK, faultserver.HTTP1, ""), "/ok")[0], "http://")
	for _, v := range []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"} {
		t.Setenv(v, p)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	t.Setenv("CURL_CA_BUNDLE", "/nonexistent")
	t.Setenv("CURL_HOME", t.TempDir())
	tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
	defer tr.Close()
	for _, mode := range []faultserver.Mode{faultserver.HTTP1, faultserver.TLS1} {
		_, body, err := roundTrip(context.Background(), &http.Client{Transport: tr}, s.URL(faultserver.OK, mode, "n=10"))
		if err != nil || !bytes.Equal(body, faultserver.Body(10)) {
			t.Errorf("Transport %s: %v", mode, err)
		}
	}
	m := newMulti(t)
	e := newEasy(t, s.URL(faultserver.OK, faultserver.HTTP1, "n=10"))
	if err := m.Do(context.Background(), e); err != nil {
		t.Errorf("Multi: %v", err)
	}
	if n := proxy.Accepted(); n != 0 {
		t.Errorf("the proxy from the environment got %d connections", n)
	}
}

// TestCallbackFailuresStayLocal makes a header function panic, a header
// function and a progress function return errors, and a writer fail, each
// beside a healthy transfer on the same Multi: only the failing transfer
// fails, with the callback's own error.
func TestCallbackFailuresStayLocal(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	m := newMulti(t)
	boom := errors.New("boom")
	cases := map[string]func(e *curlpoll.Easy){
		"header panics": func(e *curlpoll.Easy) {
			e.SetHeaderFunc(func([]byte) error { panic("header panic") })
		},
		"header fails": func(e *curlpoll.Easy) { e.SetHeaderFunc(func([]byte) error { return boom }) },
		"progress fails": func(e *curlpoll.Easy) {
			e.SetProgressFunc(func(curlpoll.Progress) error { return boom })
		},
		"progress panics": func(e *curlpoll.Easy) {
			e.SetProgressFunc(func(curlpoll.Progress) error { panic(boom) })
		},
		"writer fails": func(e *curlpoll.Easy) { e.SetWriter(failWriter{boom}) },
	}
	for name, setup := range cases {
		check := healthy(t, m, s, faultserver.HTTP1)
		e := newEasy(t, s.URL(faultserver.OK, faultserver.HTTP1, "n=100000"))
		setup(e)
		err := m.Do(context.Background(), e)
		var pe *curlpoll.PanicError
		switch {
		case strings.Contains(name, "panics") && !errors.As(err, &pe):
			t.Errorf("%s: %v, want a *PanicError", name, err)
		case !strings.Contains(name, "panics") && !errors.Is(err, boom):
			t.Errorf("%s: %v, want the callback's error", name, err)
		}
		check()
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

var _ = net.IPv4len

// TestSSLKeyLogFileIgnored runs TLS requests in a child process started with
// SSLKEYLOGFILE set: libcurl would write every TLS secret there, and
// net/http honours no such variable.
func TestSSLKeyLogFileIgnored(t *testing.T) {
	if v := curlpoll.Version(); strings.HasPrefix(v.TLS, "GnuTLS/") {
		t.Skipf("libcurl on %s: GnuTLS reads SSLKEYLOGFILE itself, at its first handshake, where curlpoll cannot hide it (documented in the README)", v.TLS)
	}
	if os.Getenv("CURLPOLL_KEYLOG_CHILD") != "" {
		s := newFaultServer(t)
		tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
		defer tr.Close()
		if _, _, err := roundTrip(context.Background(), &http.Client{Transport: tr}, s.URL(faultserver.OK, faultserver.TLS1, "n=10")); err != nil {
			t.Fatal(err)
		}
		return
	}
	keylog := filepath.Join(t.TempDir(), "keys.log")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSSLKeyLogFileIgnored$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SSLKEYLOGFILE="+keylog, "CURLPOLL_KEYLOG_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(keylog); err == nil && len(b) > 0 {
		t.Fatalf("TLS secrets were written to SSLKEYLOGFILE (%d bytes)", len(b))
	}
}
