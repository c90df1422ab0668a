package curlhttp_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportCloseDuringRead closes response bodies while a Read waits
// on them: the Read fails as one on a closed body ("http: read on closed
// response body", net/http's), never with the Transport's closed error,
// for which errors.Is(err, curlpoll.ErrClosed) holds and which says that
// the Transport was closed: code that tells a shutdown so would take
// every early Close for one.
func TestTransportCloseDuringRead(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "abc")
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	checkLeaks(t)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	for i := range 40 {
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		must(t, err)
		errc := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(resp.Body)
			errc <- err
		}()
		// The Read waits, or is about to: Close at varied points.
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		resp.Body.Close()
		select {
		case err = <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("Read still waiting 10 s after Close")
		}
		if err == nil || errors.Is(err, curlpoll.ErrClosed) {
			t.Fatalf("request %d: Read during Close = %v; want net/http's read on a closed body", i, err)
		}
	}
}
