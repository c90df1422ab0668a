package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// demoServer serves the same handler twice on 127.0.0.1: over HTTP/1.1 in
// clear text, and over HTTP/2 with TLS under a self-signed certificate.
type demoServer struct {
	plain, tls *httptest.Server
	caPEM      []byte // the TLS server's certificate, to trust
}

// startDemoServer starts the servers. Their paths:
//
//	/hello        a short greeting
//	/bytes/N      N bytes (at most 64 MiB)
//	/slow         a greeting after 300 ms
//	/status/N     an empty response with status N
//	/redirect     a redirect to /hello
func startDemoServer() *demoServer {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world\n")
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > 64<<20 {
			http.Error(w, "want /bytes/N with 0 <= N <= 64 MiB", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		chunk := make([]byte, 32<<10)
		for i := range chunk {
			chunk[i] = byte('a' + i%26)
		}
		for n > 0 {
			k, err := w.Write(chunk[:min(n, int64(len(chunk)))])
			if err != nil {
				return
			}
			n -= int64(k)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
			io.WriteString(w, "sorry for the wait\n")
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "want /status/N with 200 <= N <= 599", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.Handle("/redirect", http.RedirectHandler("/hello", http.StatusFound))

	s := &demoServer{plain: httptest.NewServer(mux), tls: httptest.NewUnstartedServer(mux)}
	s.tls.EnableHTTP2 = true
	s.tls.StartTLS()
	s.caPEM = certPEM(&s.tls.TLS.Certificates[0])
	return s
}

// urls returns the URLs the demo fetches.
func (s *demoServer) urls() []string {
	var urls []string
	for _, base := range []string{s.plain.URL, s.tls.URL} {
		for _, path := range []string{
			"/hello", "/bytes/1024", "/bytes/1048576", "/bytes/16777216",
			"/slow", "/slow", "/slow", "/slow",
			"/redirect", "/status/404",
		} {
			urls = append(urls, base+path)
		}
	}
	return urls
}

// Close stops both servers.
func (s *demoServer) Close() {
	s.plain.Close()
	s.tls.Close()
}
