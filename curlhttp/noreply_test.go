package curlhttp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportNoReply: a server that reads the request and closes the
// connection without a byte of response fails the request, with net/http,
// with io.EOF itself ("Get ...: EOF"). Code tells this failure apart by
// errors.Is(err, io.EOF): go-containerregistry's remote retries a request
// for it (its default retry predicate), and found curl's *Error (52, Empty
// reply from server) alone.
func TestTransportNoReply(t *testing.T) {
	ln := serveEach(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		// Let the client read a FIN, not a reset: nothing is left unread.
	})
	url := "http://" + ln.Addr().String() + "/"
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", cp}} {
		for _, method := range []string{"GET", "PUT"} {
			resp, err := rt.rt.RoundTrip(mustReq(method, url, nil))
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s, %s: status %d, want an error", rt.name, method, resp.StatusCode)
				continue
			}
			if !errors.Is(err, io.EOF) {
				t.Errorf("%s, %s: err = %v (%T), want one for which errors.Is(err, io.EOF)", rt.name, method, err, err)
			}
		}
	}
}
