package curlpoll_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// pipewaitServer serves "ok" over HTTP/2, cleartext (prior knowledge) or
// TLS, except /stall, which answers nothing until the client goes away.
// It counts the connections it accepted.
func pipewaitServer(t *testing.T, tls bool) (srv *httptest.Server, caPEM []byte, conns *atomic.Int32) {
	conns = new(atomic.Int32)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
		caPEM = serverCAPEM(srv)
	} else {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = &p
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, caPEM, conns
}

// TestPipewaitAfterUnansweredStream is a regression test: from libcurl
// 8.10 (8.13 for every HTTP/2 mode) a CURLOPT_PIPEWAIT transfer waits on
// any connection that has not seen a response yet, and a connection whose
// only stream ended unanswered stayed idle in the pool that way, so every
// later request to the origin waited until its deadline, or forever
// without one (the Transport sets PIPEWAIT). See libcurlPipewaitStalls.
func TestPipewaitAfterUnansweredStream(t *testing.T) {
	checkLeaks(t)
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "h2c", true: "h2"}[tls]
		t.Run("transport-cancel-"+name, func(t *testing.T) {
			srv, caPEM, conns := pipewaitServer(t, tls)
			var p http.Protocols
			p.SetHTTP2(true)
			p.SetUnencryptedHTTP2(true)
			tr := &curlhttp.Transport{Protocols: &p, CAPEM: caPEM}
			defer tr.Close()
			c := &http.Client{Transport: tr}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, _, err := roundTrip(ctx, c, srv.URL+"/stall"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the unanswered request: %v, want context.DeadlineExceeded", err)
			}
			// Then requests one after the other: they must not wait for
			// the unanswered connection, and must share one connection
			// once a response has come on it.
			before := conns.Load()
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, body, err := roundTrip(ctx, c, srv.URL+"/ok")
				cancel()
				if err != nil || string(body) != "ok" || resp.ProtoMajor != 2 {
					t.Fatalf("request %d after the unanswered one: %v", i, err)
				}
			}
			// At most one: libcurl may also reuse the connection of the
			// unanswered stream, which was reset, not closed.
			if n := conns.Load() - before; n > 1 && !(curlpoll.LibcurlH2CReuseBroken() && !tls) {
				t.Errorf("the requests after the unanswered one used %d new connections, want at most 1", n)
			}
		})
		t.Run("multi-timeout-"+name, func(t *testing.T) {
			srv, caPEM, _ := pipewaitServer(t, tls)
			m := newMulti(t)
			setup := func(e *curlpoll.Easy) {
				must(t, e.SetPipeWait(true))
				if tls {
					must(t, e.SetCAInfoBlob(caPEM))
					must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2TLS))
				} else {
					must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2PriorKnown))
					// See TestTransportH2CReuse.
					must(t, e.SetForbidReuse(curlpoll.LibcurlH2CReuseBroken()))
				}
			}
			// libcurl ends this one itself (CURLOPT_TIMEOUT), unanswered.
			a := newEasy(t, srv.URL+"/stall")
			setup(a)
			must(t, a.SetTimeout(200*time.Millisecond))
			if err := m.Do(context.Background(), a); !errors.Is(err, curlpoll.ErrOperationTimedOut) {
				t.Fatalf("the unanswered transfer: %v, want ErrOperationTimedOut", err)
			}
			b := newEasy(t, srv.URL+"/ok")
			setup(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := m.Do(ctx, b); err != nil {
				t.Fatalf("the transfer after the unanswered one: %v", err)
			}
		})
	}
}
