package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runFetch(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, &out)
	t.Logf("fetch %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func mustMatch(t *testing.T, out, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(out) {
		t.Errorf("output does not match %q", pattern)
	}
}

func TestDemo(t *testing.T) {
	out, err := runFetch(t, "-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, out, `(?m)^20 ok, 0 failed, 35653836 bytes in .*, [0-9.]+ requests/s$`)
	mustMatch(t, out, `(?m)^200  HTTP/1\.1 +16777216 +\S+  http://127\.0\.0\.1:\d+/bytes/16777216$`)
	mustMatch(t, out, `(?m)^200  HTTP/2 +16777216 +\S+  https://127\.0\.0\.1:\d+/bytes/16777216$`)
	mustMatch(t, out, `(?m)^404  HTTP/2 +0 +\S+  https://127\.0\.0\.1:\d+/status/404$`)
	mustMatch(t, out, `(?m)^200  HTTP/1\.1 +13 +\S+  http://127\.0\.0\.1:\d+/redirect$`)
}

func TestFetchReportsEachURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello, world\n")
	}))
	defer srv.Close()
	refused := closedPortURL(t)

	out, err := runFetch(t, "-n", "2", srv.URL+"/hello", srv.URL+"/missing", refused)
	if err == nil || err.Error() != "1 of 3 transfers failed" {
		t.Errorf("run: %v, want 1 of 3 transfers failed", err)
	}
	mustMatch(t, out, `(?m)^200  HTTP/1\.1 +13 +\S+  `+regexp.QuoteMeta(srv.URL+"/hello")+`$`)
	mustMatch(t, out, `(?m)^404  HTTP/1\.1 +19 +\S+  `+regexp.QuoteMeta(srv.URL+"/missing")+`$`)
	mustMatch(t, out, `(?m)^FAIL .*  `+regexp.QuoteMeta(refused)+`: curl: \(7\) `)
	mustMatch(t, out, `(?m)^2 ok, 1 failed, 32 bytes in `)
}

// TestFetchIsConcurrent holds every request until four are in the server
// at once: it passes only if the transfers run concurrently.
func TestFetchIsConcurrent(t *testing.T) {
	const n = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			io.WriteString(w, "together\n")
		case <-time.After(10 * time.Second):
			http.Error(w, "alone", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	args := []string{"-n", "4"}
	for i := range n {
		args = append(args, srv.URL+"/"+string(rune('a'+i)))
	}
	out, err := runFetch(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out, "\n200  HTTP/1.1 "); got != n {
		t.Errorf("%d responses with 200, want %d", got, n)
	}
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	start := time.Now()
	out, err := runFetch(t, "-timeout", "100ms", srv.URL+"/stall")
	if err == nil {
		t.Error("run succeeded with a transfer that timed out")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with -timeout 100ms", d)
	}
	mustMatch(t, out, `(?m)^FAIL .*/stall: context deadline exceeded$`)
}

// TestHostName fetches through a host name that libcurl resolves itself,
// with its threaded resolver. `make deps` adds the name to /etc/hosts.
func TestHostName(t *testing.T) {
	addrs, err := net.LookupHost("curlpoll.test")
	if err != nil || !slices.Contains(addrs, "127.0.0.1") {
		t.Skip("curlpoll.test does not resolve to 127.0.0.1; run make deps as root to add it to /etc/hosts")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+"\n")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "http://curlpoll.test:" + port + "/"
	out, err := runFetch(t, url, url)
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, out, `(?m)^2 ok, 0 failed, `)
}

func TestVersion(t *testing.T) {
	out, err := runFetch(t, "-version")
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, out, `(?m)^libcurl +\d+\.\d+\.\d+`)
	mustMatch(t, out, `(?m)^HTTP/2 +(yes|no)$`)
	mustMatch(t, out, `(?m)^protocols .*\bhttp\b`)
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-n", "0", "http://127.0.0.1/"},
		{"-demo", "http://127.0.0.1/"},
		{"-nosuchflag"},
	} {
		if _, err := runFetch(t, args...); err == nil {
			t.Errorf("fetch %q succeeded", args)
		}
	}
}

// closedPortURL returns a URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/refused"
	srv.Close()
	return url
}
