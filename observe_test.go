package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testutil"
)

type recordHandler = testutil.RecordHandler

func TestEasyLoggerRedacts(t *testing.T) {
	srv := newHTTPTestServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "server-secret"})
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/x")
	var h recordHandler
	must(t, e.SetLogger(slog.New(&h)))
	must(t, e.SetHTTPHeader([]string{"Authorization: Bearer client-secret", "Cookie: a=cookie-secret", "X-Plain: visible"}))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	id := tr.ID()
	if _, err := tr.WriteTo(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	lines := h.Lines()
	all := strings.Join(lines, "\n")
	for _, secret := range []string{"client-secret", "cookie-secret", "server-secret"} {
		if strings.Contains(all, secret) {
			t.Errorf("log shows %q:\n%s", secret, all)
		}
	}
	for _, want := range []string{
		"header-out " + idStr(id) + " GET /x HTTP/1.1",
		"header-out " + idStr(id) + " Authorization: [redacted]",
		"header-out " + idStr(id) + " Cookie: [redacted]",
		"header-out " + idStr(id) + " X-Plain: visible",
		"header-in " + idStr(id) + " Set-Cookie: [redacted]",
		"header-in " + idStr(id) + " HTTP/1.1 200 OK",
	} {
		if !contains(lines, want) {
			t.Errorf("no record %q in:\n%s", want, all)
		}
	}
	if !strings.Contains(all, "text "+idStr(id)+" Connected to") {
		t.Errorf("no text record:\n%s", all)
	}

	// Off again: no more records.
	n := len(lines)
	must(t, e.SetLogger(nil))
	must(t, m.Do(context.Background(), e))
	if got := len(h.Lines()); got != n {
		t.Errorf("%d records after SetLogger(nil), want %d", got, n)
	}
}

func idStr(n uint64) string { return slog.Uint64Value(n).String() }

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestRedactLine(t *testing.T) {
	for in, want := range map[string]string{
		"Authorization: Basic dXNlcjpwYXNz":              "Authorization: [redacted]",
		"proxy-authorization: Basic x":                   "proxy-authorization: [redacted]",
		"cookie: a=b; c=d":                               "cookie: [redacted]",
		"Set-Cookie: s=1; Path=/":                        "Set-Cookie: [redacted]",
		"X-Cookie: fine":                                 "X-Cookie: fine",
		"h2h3 [cookie: a=b]":                             "h2h3 [cookie: [redacted]]",
		"[HTTP/2] [1] [authorization: Bearer t]":         "[HTTP/2] [1] [authorization: [redacted]]",
		"h2h3 [:path: /]":                                "h2h3 [:path: /]",
		"Connected to 127.0.0.1 (127.0.0.1) port 1 (#0)": "Connected to 127.0.0.1 (127.0.0.1) port 1 (#0)",
	} {
		if got := curlpoll.RedactLine(in); got != want {
			t.Errorf("RedactLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEasyDebugFunc(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/hello")
	var kinds []curlpoll.DebugKind
	must(t, e.SetDebugFunc(func(k curlpoll.DebugKind, data []byte) { kinds = append(kinds, k) }))
	for range 2 {
		must(t, m.Do(context.Background(), e))
	}
	seen := map[curlpoll.DebugKind]bool{}
	for _, k := range kinds {
		seen[k] = true
	}
	if !seen[curlpoll.DebugText] || !seen[curlpoll.DebugHeaderIn] || !seen[curlpoll.DebugHeaderOut] {
		t.Errorf("debug kinds seen: %v", seen)
	}
}

func TestTransferInfo(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/bytes?n=100000")
	var infos []curlpoll.TransferInfo
	for range 2 {
		tr, err := m.Start(context.Background(), e)
		must(t, err)
		if _, ok := tr.Info(); ok {
			// Possible only if it already ended; it cannot have: nothing read it.
			select {
			case <-tr.Done():
			default:
				t.Error("Info reported ok before the end")
			}
		}
		if _, err := tr.WriteTo(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		info, ok := tr.Info()
		if !ok {
			t.Fatal("no info after the end")
		}
		tr.Close()
		infos = append(infos, info)
		easyInfo, err := e.Info()
		must(t, err)
		if easyInfo != info {
			t.Errorf("Easy.Info %+v, Transfer.Info %+v", easyInfo, info)
		}
	}
	for i, info := range infos {
		if info.RemoteAddr.String() != srv.Listener.Addr().String() || !info.LocalAddr.IsValid() {
			t.Errorf("%d: addresses %v -> %v", i, info.LocalAddr, info.RemoteAddr)
		}
		if info.Total <= 0 || info.StartTransfer > info.Total || info.PreTransfer > info.StartTransfer ||
			info.Connect > info.PreTransfer || info.AppConnect != 0 {
			t.Errorf("%d: timings %+v", i, info.Timings)
		}
	}
	if infos[0].Reused || infos[0].Connects != 1 || !infos[1].Reused || infos[1].Connects != 0 {
		t.Errorf("reuse: %+v, %+v", infos[0], infos[1])
	}
	if infos[1].LocalAddr != infos[0].LocalAddr {
		t.Errorf("reused connection has another local address: %v, %v", infos[0].LocalAddr, infos[1].LocalAddr)
	}
}

func TestProgressInterval(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	count := func(gap time.Duration) (calls int, last curlpoll.Progress) {
		e := newEasy(t, srv.URL+"/stall-body?n=1000000")
		must(t, e.SetProgressInterval(gap))
		must(t, e.SetProgressFunc(func(p curlpoll.Progress) error {
			calls++
			last = p
			return nil
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		m.Do(ctx, e) // the server stalls: the deadline ends it
		return calls, last
	}
	fast, last := count(0)
	slow, _ := count(200 * time.Millisecond)
	if last.Downloaded != 1000000 || last.DownloadTotal != 1000001 {
		t.Errorf("last progress %+v", last)
	}
	if slow < 1 || slow > 3 || fast <= slow {
		t.Errorf("%d calls with a 200 ms interval in 300 ms, %d without", slow, fast)
	}

	// An error aborts the transfer with it.
	// The body stalls after its first bytes, so a throttled call with
	// Downloaded > 0 comes however fast the loopback is.
	stop := errors.New("enough")
	e := newEasy(t, srv.URL+"/stall-body?n=100000")
	must(t, e.SetProgressInterval(10*time.Millisecond))
	must(t, e.SetProgressFunc(func(p curlpoll.Progress) error {
		if p.Downloaded > 0 {
			return stop
		}
		return nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Do(ctx, e); !errors.Is(err, stop) {
		t.Fatalf("Do = %v, want %v", err, stop)
	}
}

// TestBlockingProgressFunc blocks one transfer's progress function: the
// other transfers on the same Multi go on, and the blocked one fails with
// the function's error once it returns.
func TestBlockingProgressFunc(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	release := make(chan struct{})
	stop := errors.New("unblocked, and done")
	e := newEasy(t, srv.URL+"/stall-body?n=1000")
	must(t, e.SetProgressFunc(func(p curlpoll.Progress) error {
		<-release
		return stop
	}))
	blocked := make(chan error, 1)
	go func() { blocked <- m.Do(context.Background(), e) }()
	othersComplete(t, m, srv.URL+"/hello", "progress function")
	close(release)
	if err := <-blocked; !errors.Is(err, stop) {
		t.Fatalf("Do = %v, want the progress function's error", err)
	}
}

// TestBlockingHeaderFunc blocks one transfer's header function: the other
// transfers on the same Multi go on, and the blocked one fails with the
// function's error once it returns, though its body has long arrived.
func TestBlockingHeaderFunc(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	release := make(chan struct{})
	stop := errors.New("header function says no")
	e := newEasy(t, srv.URL+"/hello")
	var lines []string
	must(t, e.SetHeaderFunc(func(line []byte) error {
		lines = append(lines, string(line))
		if strings.TrimSpace(string(line)) == "" { // the end of the header block
			<-release
			return stop
		}
		return nil
	}))
	blocked := make(chan error, 1)
	go func() { blocked <- m.Do(context.Background(), e) }()
	othersComplete(t, m, srv.URL+"/hello", "header function")
	close(release)
	if err := <-blocked; !errors.Is(err, stop) {
		t.Fatalf("Do = %v, want the header function's error", err)
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "HTTP/1.1 200") {
		t.Errorf("header function saw %q", lines)
	}
}

// TestBlockingDebugFunc blocks one transfer's debug function: the other
// transfers on the same Multi go on, and the blocked one's Do returns once
// the function does, with every record delivered in order.
func TestBlockingDebugFunc(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	release := make(chan struct{})
	e := newEasy(t, srv.URL+"/hello")
	var kinds []curlpoll.DebugKind
	must(t, e.SetDebugFunc(func(k curlpoll.DebugKind, data []byte) {
		if len(kinds) == 0 {
			<-release
		}
		kinds = append(kinds, k)
	}))
	blocked := make(chan error, 1)
	go func() { blocked <- m.Do(context.Background(), e) }()
	othersComplete(t, m, srv.URL+"/hello", "debug function")
	select {
	case err := <-blocked:
		t.Fatalf("Do returned (%v) while its debug function was blocked", err)
	default:
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	seen := map[curlpoll.DebugKind]bool{}
	for _, k := range kinds {
		seen[k] = true
	}
	if !seen[curlpoll.DebugHeaderOut] || !seen[curlpoll.DebugHeaderIn] {
		t.Errorf("debug kinds delivered: %v", seen)
	}
}

// othersComplete runs 20 transfers of url on m, each within 5 s: none may
// wait for what blocks another transfer of the Multi.
func othersComplete(t *testing.T, m *curlpoll.Multi, url, blocked string) {
	t.Helper()
	for i := 0; i < 20; i++ {
		e := newEasy(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if err != nil {
			t.Fatalf("transfer %d beside a blocked %s: %v", i, blocked, err)
		}
	}
}
