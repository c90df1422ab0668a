package curlpoll_test

import (
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// TestTransportDroppedWithoutClose uses Transports once and drops them, as
// programs do with net/http's, which needs no Close: once they are
// unreachable their Multis, handles, connections and goroutines go too.
func TestTransportDroppedWithoutClose(t *testing.T) {
	srv := testServer(t) // before checkLeaks: its goroutines may outlive the test's checks
	checkLeaks(t)
	before := curlpoll.LiveCounts()
	fds := openFDs(t)
	use := func() {
		tr := &curlpoll.Transport{}
		c := &http.Client{Transport: tr}
		for range 2 { // a kept-alive connection, reused
			resp, err := c.Get(srv.URL + "/hello")
			must(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	const n = 20
	for range n {
		use()
	}
	if now := curlpoll.LiveCounts(); now.Easies < before.Easies+n {
		t.Fatalf("%d easy handles live after %d Transports, want at least %d more than %d: the test proves nothing",
			now.Easies, n, n, before.Easies)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		if curlpoll.LiveCounts() == before && openFDs(t) <= fds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped Transports still hold %+v (at the start %+v) and %d descriptors (%d)",
				curlpoll.LiveCounts(), before, openFDs(t), fds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
