package curlhttp_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportSameRequestAgain: an http.RoundTripper that sends the same
// *http.Request a second time, its in-memory body read to its end by the
// first (go-containerregistry's bearer transport does so after a 401 to
// send it with a fresh token), gets the body sent again with net/http:
// the body's writer fails before a byte goes out ("http: ContentLength=N
// with Body length 0"), and the Transport sends the request again on the
// kept-alive connection with a body from GetBody. The Transport failed it.
func TestTransportSameRequestAgain(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q", r.Method, b)
	}))
	defer srv.Close()
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	const payload = `{"schemaVersion": 2}`
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"bytes.Buffer", func() io.Reader { return bytes.NewBufferString(payload) }},
		{"bytes.Reader", func() io.Reader { return bytes.NewReader([]byte(payload)) }},
		{"strings.Reader", func() io.Reader { return strings.NewReader(payload) }},
	} {
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", std}, {"curlpoll", cp}} {
			req, err := http.NewRequest("PUT", srv.URL, tc.body())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				resp, err := rt.rt.RoundTrip(req)
				if err != nil {
					t.Errorf("%s, %s, send %d: %v", tc.name, rt.name, i+1, err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("PUT %q", payload); string(b) != want {
					t.Errorf("%s, %s, send %d: server got %s, want %s", tc.name, rt.name, i+1, b, want)
				}
			}
		}
	}
}
