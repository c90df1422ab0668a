package curlpoll_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// Micro-benchmarks of the hot paths. Run with
//
//	go test -run '^$' -bench . -benchmem
//
// The end-to-end ones include the local net/http server's own work; compare
// them with BenchmarkNetHTTPGet, which pays the same. bench/run.sh measures
// the clients against nginx.

var body100 = strings.Repeat("x", 100)

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body100)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkMultiDo is one small request end to end through Multi.Do on a
// reused Easy and a kept-alive connection.
func BenchmarkMultiDo(b *testing.B) {
	srv := benchServer(b)
	m, err := curlpoll.NewMulti()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	e, err := curlpoll.NewEasy()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.SetURL(srv.URL + "/")
	e.SetWriter(io.Discard)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Do(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMultiDoParallel is BenchmarkMultiDo from GOMAXPROCS goroutines
// on one Multi, each with its own Easy.
func BenchmarkMultiDoParallel(b *testing.B) {
	srv := benchServer(b)
	m, err := curlpoll.NewMulti()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e, err := curlpoll.NewEasy()
		if err != nil {
			b.Error(err)
			return
		}
		defer e.Close()
		e.SetURL(srv.URL + "/")
		e.SetWriter(io.Discard)
		for pb.Next() {
			if err := m.Do(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchGet(b *testing.B, rt http.RoundTripper) {
	srv := benchServer(b)
	roundTrips(b, &http.Client{Transport: rt}, func(c *http.Client) (*http.Response, error) {
		return c.Get(srv.URL + "/")
	})
}

// roundTrips runs request through client for the benchmark's loop,
// reading each body to its end.
func roundTrips(b *testing.B, client *http.Client, request func(*http.Client) (*http.Response, error)) {
	b.ReportAllocs()
	for b.Loop() {
		resp, err := request(client)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkTransportGet is one small request end to end through an
// http.Client over curlhttp.Transport.
func BenchmarkTransportGet(b *testing.B) {
	tr := &curlhttp.Transport{}
	defer tr.Close()
	benchGet(b, tr)
}

// BenchmarkTransportGetDialContext is BenchmarkTransportGet with a
// DialContext: every byte goes through the dial's relay
// (Easy.SetDialFunc).
func BenchmarkTransportGetDialContext(b *testing.B) {
	tr := &curlhttp.Transport{DialContext: (&net.Dialer{}).DialContext}
	defer tr.Close()
	benchGet(b, tr)
}

// BenchmarkNetHTTPGet is BenchmarkTransportGet over net/http's Transport:
// the baseline.
func BenchmarkNetHTTPGet(b *testing.B) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	benchGet(b, tr)
}

func benchGetTLS(b *testing.B, rt func(caPEM []byte) http.RoundTripper) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body100)
	}))
	b.Cleanup(srv.Close)
	ca := serverCAPEM(srv)
	roundTrips(b, &http.Client{Transport: rt(ca)}, func(c *http.Client) (*http.Response, error) {
		return c.Get(srv.URL + "/")
	})
}

// BenchmarkTransportGetTLS is BenchmarkTransportGet over HTTPS (HTTP/1.1,
// a kept-alive connection): Response.TLS is filled for every response.
func BenchmarkTransportGetTLS(b *testing.B) {
	benchGetTLS(b, func(ca []byte) http.RoundTripper {
		tr := &curlhttp.Transport{CAPEM: ca}
		b.Cleanup(func() { tr.Close() })
		return tr
	})
}

// BenchmarkNetHTTPGetTLS is BenchmarkTransportGetTLS over net/http's Transport.
func BenchmarkNetHTTPGetTLS(b *testing.B) {
	benchGetTLS(b, func(ca []byte) http.RoundTripper {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		b.Cleanup(tr.CloseIdleConnections)
		return tr
	})
}

func benchPost(b *testing.B, rt http.RoundTripper) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, body100)
	}))
	b.Cleanup(srv.Close)
	roundTrips(b, &http.Client{Transport: rt}, func(c *http.Client) (*http.Response, error) {
		return c.Post(srv.URL+"/", "text/plain", strings.NewReader(body100))
	})
}

// BenchmarkTransportPost is a small POST (100 B each way) end to end
// through an http.Client over curlhttp.Transport: the request body goes
// through the upload pump.
func BenchmarkTransportPost(b *testing.B) {
	tr := &curlhttp.Transport{}
	defer tr.Close()
	benchPost(b, tr)
}

// BenchmarkNetHTTPPost is BenchmarkTransportPost over net/http's Transport.
func BenchmarkNetHTTPPost(b *testing.B) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	benchPost(b, tr)
}

// BenchmarkWriteCallback is the Go side of the write callback (queue a
// chunk of libcurl's buffer on the transfer, wake the consumer) and the
// consumer's read of it, for a 100 B and a 16 KiB chunk. The cgo crossing
// into the callback is part of BenchmarkMultiDo.
func BenchmarkWriteCallback(b *testing.B) {
	for _, size := range []int{100, 16 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			chunk := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			curlpoll.WritePath(chunk, b.N)
		})
	}
}
