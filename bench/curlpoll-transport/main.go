// Command curlpoll-transport is the benchmark client for curlhttp.Transport:
// an http.Client over it, N goroutines, each response body copied to
// io.Discard. It is the nethttp client with one line changed.
//
// For -h2 it trusts the self-signed certificate (Transport.CAFile) and lets
// ALPN choose HTTP/2, multiplexed (MultiplexHTTP2, which libcurl older than
// 8.1.0 needs): one connection for each Multi the Transport spreads the
// requests over, where net/http uses one.
package main

import (
	"net/http"

	"github.com/curlpoll/curlpoll/bench/internal/load"
	"github.com/curlpoll/curlpoll/curlhttp"
)

func main() {
	cfg := load.Flags("curlpoll-transport")
	tr := &curlhttp.Transport{
		MaxIdleConnsPerHost: cfg.Workers,
		CAFile:              cfg.CAFile,
		MultiplexHTTP2:      true,
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}
	r := load.Run("curlpoll-transport", cfg, func(int) (load.Fetch, error) {
		return func() (int64, error) { return load.GetHTTP(client, cfg.URL, cfg.HTTP2) }, nil
	})
	if cfg.HTTP2 {
		r.Note = "MultiplexHTTP2 (up to 100 streams per connection)"
	}
	load.Print(r)
}
