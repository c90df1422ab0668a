// Command roundtripper is an ordinary net/http client program, switched to
// libcurl by one line: the Transport of its http.Client.
//
//	roundtripper URL...   # GET each URL, print status, protocol and size
//	roundtripper -demo    # the same against an embedded server on 127.0.0.1
//
// Everything else is plain net/http: redirects, cookies and timeouts are
// the http.Client's, and the responses are *http.Response values.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/signal"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "roundtripper:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("roundtripper", flag.ContinueOnError)
	demo := flags.Bool("demo", false, "fetch from an embedded server on 127.0.0.1")
	if err := flags.Parse(args); err != nil {
		return err
	}
	urls := flags.Args()
	if *demo {
		srv := httptest.NewServer(demoHandler())
		defer srv.Close()
		urls = []string{srv.URL + "/hello", srv.URL + "/redirect", srv.URL + "/gzip"}
	}
	if len(urls) == 0 {
		return errors.New("no URL given (or use -demo)")
	}

	tr := &curlhttp.Transport{Proxy: http.ProxyFromEnvironment} // the one line: was http.DefaultTransport
	defer tr.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second}

	var failed error
	for _, u := range urls {
		if err := get(ctx, client, u, stdout); err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", u, err)
			failed = errors.New("some requests failed")
		}
	}
	return failed
}

func get(ctx context.Context, client *http.Client, url string, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s %s, %d bytes", url, resp.Proto, resp.Status, n)
	if resp.Request.URL.String() != url {
		fmt.Fprintf(stdout, " from %s", resp.Request.URL)
	}
	if resp.Uncompressed {
		fmt.Fprint(stdout, " (gzip decoded)")
	}
	fmt.Fprintln(stdout)
	return nil
}

// demoHandler serves a page, a redirect to it and a gzip-encoded page.
func demoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from net/http, fetched by libcurl\n")
	})
	mux.Handle("/redirect", http.RedirectHandler("/hello", http.StatusFound))
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipHello)
	})
	return mux
}

// gzipHello is "hello, gzip" compressed with gzip.
var gzipHello = func() []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, "hello, gzip\n")
	zw.Close()
	return b.Bytes()
}()
