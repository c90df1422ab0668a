package curlpoll_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// Every path on which libcurl before 8.7.0 could send a request with
// trailers again within one transfer, or reuse a handle that sent
// trailers, where its trailer state would write outside its upload buffer
// (libcurlTrailerStateSticks; from a second review). Each case is followed
// by uploads on the same handle, with and without trailers, which must
// arrive whole: heap corruption shows as a crash (more surely under
// LD_PRELOAD=libc_malloc_debug.so.0 GLIBC_TUNABLES=glibc.malloc.check=3).

func trailerPathsServer(t *testing.T) *httptestServer {
	return testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/307", "/308", "/302":
			io.ReadAll(r.Body)
			code := map[string]int{"/307": 307, "/308": 308, "/302": 302}[r.URL.Path]
			w.Header().Set("Location", "/echo")
			w.WriteHeader(code)
			return
		case "/auth":
			if _, _, ok := r.BasicAuth(); !ok {
				io.ReadAll(r.Body)
				w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
				w.WriteHeader(401)
				return
			}
		case "/417":
			if r.Header.Get("Expect") != "" {
				w.WriteHeader(417)
				return
			}
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+"|"+string(b)+"|"+r.Trailer.Get("X-Sum"))
	}))
}

func trailerUpload(t *testing.T, m *curlpoll.Multi, e *curlpoll.Easy, url string, trailers bool) (string, error) {
	t.Helper()
	must(t, e.SetURL(url))
	must(t, e.SetPost(true))
	must(t, e.SetPostFieldSize(-1))
	if trailers {
		must(t, e.SetTrailerFunc(func(*curlpoll.Transfer) ([]string, error) { return []string{"X-Sum: 5"}, nil }))
	} else {
		must(t, e.SetTrailerFunc(nil))
	}
	must(t, e.SetReader(strings.NewReader("hello")))
	must(t, e.SetRewind(func() (io.Reader, error) { return strings.NewReader("hello"), nil }))
	var out strings.Builder
	must(t, e.SetWriter(&out))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Do(ctx, e)
	return out.String(), err
}

func uploadsAfter(t *testing.T, m *curlpoll.Multi, e *curlpoll.Easy, base string) {
	t.Helper()
	must(t, e.SetFollowLocation(false))
	for i, tr := range []bool{false, true, false, true, false} {
		got, err := trailerUpload(t, m, e, base+"/echo", tr)
		want := "POST|hello|"
		if tr {
			want += "5"
		}
		if err != nil || got != want {
			t.Errorf("upload %d after (trailers %v): %q, %v; want %q", i, tr, got, err, want)
		}
	}
}

// TestTrailerFuncPaths: redirects followed (307, 308, 302), an
// authentication round, a 417 to "Expect: 100-continue", Reset, another
// Multi, Multi.Start, and an HSTS cache in memory only (whose handle cannot
// be renewed: refused).
func TestTrailerFuncPaths(t *testing.T) {
	srv := trailerPathsServer(t)
	t.Logf("libcurl %s", curlpoll.Version().Version)
	for _, p := range []string{"/307", "/308", "/302"} {
		t.Run("follow"+p, func(t *testing.T) {
			m := newMulti(t)
			e := newEasy(t, srv.URL)
			must(t, e.SetFollowLocation(true))
			got, err := trailerUpload(t, m, e, srv.URL+p, true)
			t.Logf("follow %s: %q, %v", p, got, err)
			uploadsAfter(t, m, e, srv.URL)
		})
	}
	t.Run("auth", func(t *testing.T) {
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		must(t, e.SetHTTPAuth(curlpoll.AuthAny))
		must(t, e.SetUsername("u"))
		must(t, e.SetPassword("p"))
		got, err := trailerUpload(t, m, e, srv.URL+"/auth", true)
		t.Logf("auth: %q, %v", got, err)
		uploadsAfter(t, m, e, srv.URL)
	})
	t.Run("417", func(t *testing.T) {
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		got, err := trailerUpload(t, m, e, srv.URL+"/417", true)
		t.Logf("417: %q, %v", got, err)
		uploadsAfter(t, m, e, srv.URL)
	})
	t.Run("reset", func(t *testing.T) {
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		got, err := trailerUpload(t, m, e, srv.URL+"/echo", true)
		if err != nil || got != "POST|hello|5" {
			t.Errorf("%q, %v", got, err)
		}
		must(t, e.Reset())
		got, err = trailerUpload(t, m, e, srv.URL+"/echo", false)
		if err != nil || got != "POST|hello|" {
			t.Errorf("after Reset: %q, %v", got, err)
		}
		must(t, e.Reset())
		uploadsAfter(t, m, e, srv.URL)
	})
	t.Run("otherMulti", func(t *testing.T) {
		m := newMulti(t)
		m2 := newMulti(t)
		e := newEasy(t, srv.URL)
		got, err := trailerUpload(t, m, e, srv.URL+"/echo", true)
		if err != nil || got != "POST|hello|5" {
			t.Errorf("%q, %v", got, err)
		}
		got, err = trailerUpload(t, m2, e, srv.URL+"/echo", false)
		if err != nil || got != "POST|hello|" {
			t.Errorf("on another Multi: %q, %v", got, err)
		}
		uploadsAfter(t, m2, e, srv.URL)
		uploadsAfter(t, m, e, srv.URL)
	})
	t.Run("start", func(t *testing.T) {
		// Multi.Start (a public transfer) rather than Do.
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		for i := range 4 {
			must(t, e.SetPost(true))
			must(t, e.SetPostFieldSize(-1))
			if i%2 == 0 {
				must(t, e.SetTrailerFunc(func(*curlpoll.Transfer) ([]string, error) { return []string{"X-Sum: 5"}, nil }))
			} else {
				must(t, e.SetTrailerFunc(nil))
			}
			must(t, e.SetURL(srv.URL+"/echo"))
			must(t, e.SetReader(strings.NewReader("hello")))
			tr, err := m.Start(context.Background(), e)
			must(t, err)
			b, err := io.ReadAll(tr)
			tr.Close()
			t.Logf("start %d: %q %v", i, b, err)
		}
	})
	t.Run("hsts", func(t *testing.T) {
		m := newMulti(t)
		e := newEasy(t, srv.URL)
		must(t, e.SetOptionLong(optHSTSCtrl(t), 1)) // in memory only
		got, err := trailerUpload(t, m, e, srv.URL+"/echo", true)
		if err != nil || got != "POST|hello|5" {
			t.Errorf("%q, %v", got, err)
		}
		got, err = trailerUpload(t, m, e, srv.URL+"/echo", false)
		t.Logf("after, HSTS in memory: %q, %v", got, err)
		if curlpoll.Version().Number < 0x080700 && (err == nil || !strings.Contains(err.Error(), "HSTS")) {
			t.Errorf("HSTS in memory only after trailers: %q, %v; want the HSTS refusal", got, err)
		}
		must(t, e.SetOptionLong(optHSTSCtrl(t), 0))
		uploadsAfter(t, m, e, srv.URL)
	})
}

// TestTrailerFuncDeadConnection: a reused connection the server closes
// after reading the request whole; libcurl would send it again, and before
// 8.7.0 the transfer fails with ErrRequestLimit instead.
func TestTrailerFuncDeadConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	first := true
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f := first
			first = false
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					if f && req.Method == "POST" {
						return
					}
					body := req.Method + "|" + string(b) + "|" + req.Trailer.Get("X-Sum")
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				}
			}()
		}
	}()
	base := "http://" + ln.Addr().String()
	m := newMulti(t)
	e := newEasy(t, base)
	// This server sends no "100 Continue": don't wait a second for it.
	must(t, e.SetExpect100Timeout(time.Millisecond))
	must(t, m.Do(context.Background(), e)) // GET, kept
	got, err := trailerUpload(t, m, e, base+"/echo", true)
	t.Logf("dead conn: %q, %v", got, err)
	if curlpoll.Version().Number < 0x080700 && !errors.Is(err, curlpoll.ErrRequestLimit) {
		t.Errorf("want ErrRequestLimit: %q, %v", got, err)
	}
	uploadsAfter(t, m, e, base)
}
