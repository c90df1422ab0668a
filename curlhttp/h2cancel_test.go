package curlhttp_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportHTTP2BodyCloseStopsServer: closing an HTTP/2 response body
// before its end (a stream of server-sent events that the caller stops,
// as go-openai's stream.Close does) must tell the server, as net/http's
// RST_STREAM does: the handler's context is canceled. libcurl queued its
// RST_STREAM on the connection, which went back to the pool, and sent it
// only when the connection was next used or closed: the server went on
// streaming into it meanwhile, for as long as no other request came.
func TestTransportHTTP2BodyCloseStopsServer(t *testing.T) {
	events := make(chan int)
	gone := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case events <- i:
			case <-r.Context().Done():
				gone <- struct{}{}
				return
			case <-time.After(10 * time.Second):
				return
			}
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	std := srv.Client().Transport.(*http.Transport).Clone()
	std.ForceAttemptHTTP2 = true
	defer std.CloseIdleConnections()
	ours := &curlhttp.Transport{CAPEM: serverCAPEM(srv), TLSClientConfig: &tls.Config{}, ForceAttemptHTTP2: true}
	defer ours.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", ours}} {
		resp, err := rt.rt.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatalf("%s: %v", rt.name, err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s: %s, want HTTP/2", rt.name, resp.Proto)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			<-events
			if l, err := br.ReadString('\n'); err != nil || l != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("%s: %q %v", rt.name, l, err)
			}
			br.ReadString('\n')
		}
		resp.Body.Close() // the server is sending more
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the server's handler did not see the stream end within 5 s of the body's Close", rt.name)
		}
	}
}
