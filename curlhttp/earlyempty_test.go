package curlhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportEarlyEmptyResponse: a server answers a request with a 2xx
// and no body (Content-Length: 0, or 204) before it has read the request
// body. net/http returns the response at once (it waits at most 50 ms for
// the request to be written, then gives up on the connection, and the
// server gets the body cut short); the Transport waited for the upload to
// end before returning (libcurl goes on sending after a 2xx), so a caller
// that writes the rest of its body once the response is in never got the
// response, and a server that never read the rest made the request fail
// with the send error in place of its response.
func TestTransportEarlyEmptyResponse(t *testing.T) {
	for _, status := range []string{"202 Accepted\r\nContent-Length: 0", "204 No Content"} {
		t.Run(status[:3], func(t *testing.T) {
			type upload struct {
				body string
				err  error
			}
			got := make(chan upload, 1)
			ln := serveEach(t, func(c net.Conn) {
				c.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 "+status+"\r\n\r\n")
				b, err := io.ReadAll(req.Body) // only now, after the answer
				got <- upload{string(b), err}
			})
			tr := &curlhttp.Transport{}
			defer tr.Close()
			for _, rt := range []struct {
				name string
				rt   http.RoundTripper
			}{{"net/http", &http.Transport{}}, {"curlpoll", tr}} {
				pr, pw := io.Pipe()
				go io.WriteString(pw, "first,")
				req := mustReq("POST", "http://"+ln.Addr().String(), nil)
				req.Body, req.ContentLength = pr, -1
				type result struct {
					resp *http.Response
					err  error
				}
				done := make(chan result, 1)
				go func() {
					resp, err := rt.rt.RoundTrip(req)
					done <- result{resp, err}
				}()
				var r result
				select {
				case r = <-done:
				case <-time.After(5 * time.Second):
					pw.CloseWithError(io.ErrUnexpectedEOF) // let RoundTrip end
					t.Errorf("%s: no response within 5 s while the request body was open", rt.name)
					<-done
					<-got
					continue
				}
				if r.err != nil {
					pw.Close()
					<-got
					t.Errorf("%s: %v", rt.name, r.err)
					continue
				}
				if r.resp.StatusCode != 202 && r.resp.StatusCode != 204 || r.resp.Body != http.NoBody {
					t.Errorf("%s: status %d, body %T", rt.name, r.resp.StatusCode, r.resp.Body)
				}
				r.resp.Body.Close()
				// The connection is given up: the upload ends short,
				// though the body is still open.
				select {
				case u := <-got:
					if u.body != "first," || u.err == nil {
						t.Errorf("%s: the server got %q, %v; want the body cut short after %q", rt.name, u.body, u.err, "first,")
					}
				case <-time.After(10 * time.Second):
					t.Errorf("%s: the upload did not end", rt.name)
				}
				pw.Close()
			}
		})
	}
}
