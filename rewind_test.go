package curlpoll_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestRewindOnRetry sends a request body on a reused connection that the
// server closes without answering: libcurl retries on a new connection and
// must send the body again, which it gets from the rewind function (run
// off libcurl's goroutine).
func TestRewindOnRetry(t *testing.T) {
	var conns atomic.Int32
	srv := newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		n := conns.Add(1)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			if n == 1 && i == 1 {
				c.Close() // the second request on the first connection: no answer
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	payload := bytes.Repeat([]byte("body "), 1000)
	var rewinds atomic.Int32
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		must(t, e.SetPost(true))
		must(t, e.SetPostFieldSize(int64(len(payload))))
		must(t, e.SetReader(bytes.NewReader(payload)))
		must(t, e.SetRewind(func() (io.Reader, error) {
			rewinds.Add(1)
			return bytes.NewReader(payload), nil
		}))
		must(t, e.SetWriter(&out))
		if err := m.Do(context.Background(), e); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !bytes.Equal(out.Bytes(), payload) {
			t.Fatalf("request %d: server got %d bytes, want %d", i, out.Len(), len(payload))
		}
	}
	if conns.Load() != 2 || rewinds.Load() != 1 {
		t.Errorf("%d connections and %d rewinds; want a retry on a second connection with one rewind", conns.Load(), rewinds.Load())
	}
}
