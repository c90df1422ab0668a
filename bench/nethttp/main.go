// Command nethttp is the baseline benchmark client: the curlpoll-transport
// program over net/http's own Transport, with MaxIdleConnsPerHost set to N
// (N workers never have more than N requests in flight). For -h2 HTTP/2 is forced (ForceAttemptHTTP2
// with a TLS config that trusts the self-signed certificate), and net/http
// multiplexes the N requests over one connection.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/curlpoll/curlpoll/bench/internal/load"
)

func main() {
	cfg := load.Flags("nethttp")
	tr := &http.Transport{
		MaxIdleConnsPerHost: cfg.Workers,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nethttp:", err)
			os.Exit(1)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = true
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	r := load.Run("nethttp", cfg, func(int) (load.Fetch, error) {
		return func() (int64, error) { return load.GetHTTP(client, cfg.URL, cfg.HTTP2) }, nil
	})
	load.Print(r)
}
