package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"time"
)

// demoFiles are the demo server's files and their sizes.
var demoFiles = []struct {
	name string
	size int64
}{
	{"alpha.bin", 3 << 20},
	{"bravo.bin", 5 << 20},
	{"charlie.bin", 2 << 20},
	{"delta.bin", 6 << 20},
	{"echo.bin", 1 << 20},
	{"foxtrot.bin", 4 << 20},
	{"golf.txt", 300 << 10},
}

// demoContent returns the bytes of a demo file: a pattern that depends on
// the name, so a resumed file can be checked.
func demoContent(name string, size int64) []byte {
	b := make([]byte, size)
	seed := len(name)
	for i := range b {
		b[i] = byte('a' + (i*7+seed)%26)
	}
	return b
}

type demoServer struct {
	*httptest.Server
}

// startDemoServer serves the demo files on 127.0.0.1, with Range support
// (http.ServeContent), each transfer limited to rate bytes per second
// (0: no limit).
func startDemoServer(rate int64) *demoServer {
	content := map[string][]byte{}
	for _, f := range demoFiles {
		content[f.name] = demoContent(f.name, f.size)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := content[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(&throttled{w: w, r: r, rate: rate}, r, r.PathValue("name"), time.Time{}, bytes.NewReader(b))
	})
	return &demoServer{httptest.NewServer(mux)}
}

func (s *demoServer) urls() []string {
	var urls []string
	for _, f := range demoFiles {
		urls = append(urls, s.URL+"/files/"+f.name)
	}
	return urls
}

// throttled is a ResponseWriter that sends at most rate bytes per second.
type throttled struct {
	w    http.ResponseWriter
	r    *http.Request
	rate int64
}

func (t *throttled) Header() http.Header  { return t.w.Header() }
func (t *throttled) WriteHeader(code int) { t.w.WriteHeader(code) }

func (t *throttled) Write(p []byte) (int, error) {
	if t.rate <= 0 {
		return t.w.Write(p)
	}
	const chunk = 16 << 10
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		m, err := t.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
		select {
		case <-time.After(time.Duration(int64(n) * int64(time.Second) / t.rate)):
		case <-t.r.Context().Done():
			return written, t.r.Context().Err()
		}
	}
	return written, nil
}
