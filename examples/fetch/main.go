// Command fetch downloads many URLs concurrently with curlpoll and reports
// each one's status, size and time, then a summary.
//
//	fetch [-n 8] [-timeout 30s] URL...
//	fetch -demo      # fetch from an embedded server on 127.0.0.1 instead
//	fetch -version   # the libcurl curlpoll runs on
//
// It is plain goroutine-style code: -n workers, each with its own
// curlpoll.Easy, call Multi.Do on one shared Multi, which multiplexes every
// transfer over the Go runtime's netpoller. Redirects are followed. A
// transfer counts as ok when a response arrived, whatever its status (shown
// on its line), and as failed when none did. fetch exits with status 1 if
// any transfer failed.
package main

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/curlpoll/curlpoll"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "fetch:", err)
		os.Exit(1)
	}
}

// run parses args, fetches the URLs and writes the report to stdout. It
// returns an error for bad arguments and when a transfer failed.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("fetch", flag.ContinueOnError)
	n := flags.Int("n", 8, "transfers to run at once")
	timeout := flags.Duration("timeout", 30*time.Second, "time limit for each transfer")
	demo := flags.Bool("demo", false, "start a server on 127.0.0.1 and fetch a set of its URLs")
	version := flags.Bool("version", false, "print the version and features of libcurl, and exit")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: fetch [flags] URL...\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *version {
		printVersion(stdout)
		return nil
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: need at least 1", *n)
	}

	f := &fetcher{timeout: *timeout}
	urls := flags.Args()
	if *demo {
		if len(urls) > 0 {
			return errors.New("-demo fetches its own URLs: give no others")
		}
		srv := startDemoServer()
		defer srv.Close()
		f.caPEM = srv.caPEM
		f.noProxy = "127.0.0.1"
		urls = srv.urls()
		fmt.Fprintf(stdout, "demo server: %s (HTTP/1.1) and %s (HTTP/2 over TLS)\n", srv.plain.URL, srv.tls.URL)
	}
	if len(urls) == 0 {
		flags.Usage()
		return errors.New("no URLs to fetch")
	}

	m, err := curlpoll.NewMulti()
	if err != nil {
		return err
	}
	defer m.Close()

	fmt.Fprintf(stdout, "%-4s %-8s %10s %9s  %s\n", "CODE", "PROTO", "BYTES", "TIME", "URL")
	start := time.Now()
	results := f.fetchAll(ctx, m, urls, *n, stdout)
	s := summarize(results, time.Since(start))
	fmt.Fprintln(stdout, s)
	if s.failed > 0 {
		return fmt.Errorf("%d of %d transfers failed", s.failed, len(results))
	}
	return nil
}

// fetcher holds the settings every transfer gets.
type fetcher struct {
	timeout time.Duration
	caPEM   []byte // extra trusted certificates (the demo server's), if any
	noProxy string // hosts reached without a proxy, if any
}

// result is the outcome of one transfer.
type result struct {
	url     string
	status  int
	proto   string
	bytes   int64
	elapsed time.Duration
	err     error
}

// fetchAll fetches urls with n workers and prints a line for each as it
// finishes. The results are in the order of urls.
func (f *fetcher) fetchAll(ctx context.Context, m *curlpoll.Multi, urls []string, n int, out io.Writer) []result {
	results := make([]result, len(urls))
	next := make(chan int)
	var outMu sync.Mutex // guards out
	var wg sync.WaitGroup
	for range min(n, len(urls)) {
		wg.Go(func() {
			// One handle per worker, reused: libcurl keeps its caches warm.
			e, err := curlpoll.NewEasy()
			if err == nil {
				defer e.Close()
			}
			for i := range next {
				r := result{url: urls[i], err: err}
				if err == nil {
					r = f.fetch(ctx, m, e, urls[i])
				}
				results[i] = r
				outMu.Lock()
				fmt.Fprintln(out, r)
				outMu.Unlock()
			}
		})
	}
	for i := range urls {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// fetch runs one transfer on e and describes how it went.
func (f *fetcher) fetch(ctx context.Context, m *curlpoll.Multi, e *curlpoll.Easy, url string) result {
	r := result{url: url}
	var body countingWriter
	if r.err = errors.Join(
		e.SetURL(url),
		e.SetWriter(&body),
		e.SetFollowLocation(true),
		e.SetCAInfoBlob(f.caPEM),
		e.SetNoProxy(f.noProxy),
	); r.err != nil {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	r.err = m.Do(ctx, e)
	r.elapsed = time.Since(start)
	r.bytes = int64(body)
	r.status, _ = e.ResponseCode()
	if v, err := e.HTTPVersion(); err == nil {
		r.proto = protoName(v)
	}
	return r
}

// String formats r as one line of the report.
func (r result) String() string {
	if r.err != nil {
		return fmt.Sprintf("FAIL %-8s %10s %9s  %s: %v", r.proto, "-", r.elapsed.Round(time.Microsecond*100), r.url, r.err)
	}
	return fmt.Sprintf("%-4d %-8s %10d %9s  %s", r.status, r.proto, r.bytes, r.elapsed.Round(time.Microsecond*100), r.url)
}

func protoName(v curlpoll.HTTPVersion) string {
	switch v {
	case curlpoll.HTTPVersion1_0:
		return "HTTP/1.0"
	case curlpoll.HTTPVersion1_1:
		return "HTTP/1.1"
	case curlpoll.HTTPVersion2:
		return "HTTP/2"
	}
	return "" // no HTTP response, or a protocol other than HTTP
}

// summary is the last line of the report.
type summary struct {
	ok, failed int
	bytes      int64
	wall       time.Duration
}

func summarize(results []result, wall time.Duration) summary {
	s := summary{wall: wall}
	for _, r := range results {
		if r.err != nil {
			s.failed++
			continue
		}
		s.ok++
		s.bytes += r.bytes
	}
	return s
}

func (s summary) String() string {
	rate := float64(s.ok+s.failed) / s.wall.Seconds()
	return fmt.Sprintf("%d ok, %d failed, %d bytes in %v, %.1f requests/s",
		s.ok, s.failed, s.bytes, s.wall.Round(time.Millisecond), rate)
}

// countingWriter counts the bytes written to it and drops them.
type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// printVersion describes the libcurl in use.
func printVersion(out io.Writer) {
	v := curlpoll.Version()
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(out, "libcurl    %s\n", v.Version)
	fmt.Fprintf(out, "TLS        %s\n", v.TLS)
	fmt.Fprintf(out, "HTTP/2     %s\n", yes[v.HTTP2])
	fmt.Fprintf(out, "HTTP/3     %s\n", yes[v.HTTP3])
	fmt.Fprintf(out, "protocols  %s\n", strings.Join(v.Protocols, " "))
}

// certPEM encodes the leaf certificate of c as PEM.
func certPEM(c *tls.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
}
