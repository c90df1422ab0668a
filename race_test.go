package curlpoll_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHappensBeforeThroughLibcurl is the edge a Go socket read gives: what
// a handler wrote before its response happens before the client's use of
// the response. libcurl's reads are C, unseen by the race detector, so the
// driver supplies the edge (race.go); under -race this test fails without
// it. And the other way: what the client wrote before its request happens
// before the handler's reading of it.
func TestHappensBeforeThroughLibcurl(t *testing.T) {
	var fromServer, fromClient int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromClient != 2 { // written by the client before its request
			t.Errorf("handler saw %d", fromClient)
		}
		fromServer = 1 // read by the client after the response
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetPostFields([]byte("x")))
	var b strings.Builder
	must(t, e.SetWriter(&b))
	fromClient = 2
	must(t, m.Do(context.Background(), e))
	if fromServer != 1 || b.String() != "ok" {
		t.Fatalf("client saw %d, body %q", fromServer, b.String())
	}
}
