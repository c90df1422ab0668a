package curlpoll_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEasyResetRestoresDefaults runs a POST with a custom method, header
// and body on an Easy, resets it, and checks that the next transfer is a
// plain GET again, with curlpoll's fixed settings (the write callback) in
// place.
func TestEasyResetRestoresDefaults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q %d", r.Method, r.Header.Get("X-Test"), len(b))
	}))
	defer srv.Close()
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	var out bytes.Buffer
	must(t, e.SetWriter(&out))
	must(t, e.SetCustomRequest("PATCH"))
	must(t, e.SetHTTPHeader([]string{"X-Test: yes"}))
	must(t, e.SetPostFields([]byte("abc")))
	must(t, m.Do(context.Background(), e))
	if got, want := out.String(), `PATCH "yes" 3`; got != want {
		t.Fatalf("first transfer: server saw %s, want %s", got, want)
	}

	must(t, e.Reset())
	out.Reset()
	must(t, e.SetURL(srv.URL))
	must(t, e.SetWriter(&out))
	must(t, m.Do(context.Background(), e))
	if got, want := out.String(), `GET "" 0`; got != want {
		t.Fatalf("after Reset: server saw %s, want %s", got, want)
	}
}

// TestEasyResetAfterDoH resets an Easy whose transfer was stopped in the
// middle of a DoH lookup while its Multi is still running: libcurl removes
// the lookups from the multi handle during the reset, which must happen on
// the Multi's driver. The handle then works for a plain transfer.
func TestEasyResetAfterDoH(t *testing.T) {
	checkFDs(t)
	m := newMulti(t)
	asked := make(chan time.Time, 2)
	doh := newRawServer(t, func(c net.Conn) { c.Read(make([]byte, 1)); asked <- time.Now() })
	e := newEasy(t, "http://resolve-me.test:1/")
	must(t, e.SetDoHURL(strings.Replace(doh.URL(), "http:", "https:", 1)+"dns-query"))
	ctx, cancel := context.WithCancel(context.Background())
	tr, err := m.Start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	reached := settled(asked, dohConnections())
	waitFor(t, func() bool { return reached(m) })
	cancel()
	<-tr.Done()
	tr.Close()

	must(t, e.Reset())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	var out bytes.Buffer
	must(t, e.SetURL(srv.URL))
	must(t, e.SetWriter(&out))
	must(t, m.Do(context.Background(), e))
	if out.String() != "hello" {
		t.Fatalf("after Reset: body %q, want hello", out.String())
	}
	if s, _ := m.Stats(); s.Active != 0 {
		t.Errorf("%d transfers attached after the reset", s.Active)
	}
}
