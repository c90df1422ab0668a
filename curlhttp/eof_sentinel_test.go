package curlhttp_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// TestTransportEOFSentinels: where net/http fails with io.EOF or
// io.ErrUnexpectedEOF, it returns the value itself, not an error that
// wraps it, and code compares with ==, as io.EOF's documentation expects:
// Kubernetes' client-go (utilnet.IsProbableEOF, watch.StreamWatcher)
// takes a watch stream cut short with err == io.ErrUnexpectedEOF for the
// end of the watch, and anything else for an error event; its REST client
// retries a GET whose url.Error holds err == io.EOF. Three cases: no
// response at all (RoundTrip's *url.Error holds io.EOF), a chunked body
// cut short and a Content-Length body cut short (the body's Read returns
// io.ErrUnexpectedEOF).
func TestTransportEOFSentinels(t *testing.T) {
	serve := func(resp string) string { return serveReply(t, resp, false) }
	noReply := serve("")
	for _, tc := range transports(t, nil) {
		_, err := (&http.Client{Transport: tc.rt}).Get(noReply)
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err != io.EOF {
			t.Errorf("%s, no response: err = %v (%T), want a *url.Error whose Err is io.EOF itself", tc.name, err, err)
		}
	}
	for _, c := range []struct{ name, resp string }{
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"},
	} {
		u := serve(c.resp)
		for _, tc := range transports(t, nil) {
			resp, err := tc.rt.RoundTrip(mustReq("GET", u, nil))
			if err != nil {
				t.Errorf("%s, %s: %v", tc.name, c.name, err)
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello" || err != io.ErrUnexpectedEOF {
				t.Errorf("%s, %s body cut short: read %q, %v (%T); want \"hello\" and io.ErrUnexpectedEOF itself", tc.name, c.name, b, err, err)
			}
		}
	}
}
