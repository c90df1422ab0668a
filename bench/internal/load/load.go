// Package load is the part the benchmark clients share: their flags, the
// loop that runs N workers until a request count is reached, and the
// result line each client prints (one JSON object, read by bench/report).
package load

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is what every client is told on its command line.
type Config struct {
	URL      string // the URL fetched by every request
	Requests int    // total requests, spread over the workers
	Workers  int    // N: requests in flight at once
	HTTP2    bool   // the TLS rows: HTTP/2, one multiplexed connection where the client can
	CAFile   string // the self-signed certificate to trust for https URLs
	Label    string // the workload's name, copied into the result
	Profile  string // write a CPU profile of the run here
	Trace    string // write an execution trace of the run here
}

// Flags parses the common flags of a client named name.
func Flags(name string) Config {
	var c Config
	flag.StringVar(&c.URL, "url", "", "URL to fetch")
	flag.IntVar(&c.Requests, "n", 1000, "total requests")
	flag.IntVar(&c.Workers, "c", 1, "concurrent requests (N)")
	flag.BoolVar(&c.HTTP2, "h2", false, "HTTP/2 over TLS")
	flag.StringVar(&c.CAFile, "cacert", "", "CA certificate file for https")
	flag.StringVar(&c.Label, "label", "", "workload label for the result line")
	flag.StringVar(&c.Profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.StringVar(&c.Trace, "trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if c.URL == "" || c.Requests < 1 || c.Workers < 1 {
		fmt.Fprintf(os.Stderr, "%s: -url, -n >= 1 and -c >= 1 are required\n", name)
		os.Exit(2)
	}
	return c
}

// Result is one run of one client on one workload.
type Result struct {
	Client   string  `json:"client"`
	Label    string  `json:"label"`
	Workers  int     `json:"workers"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	UserCPU  float64 `json:"user_cpu"` // seconds
	SysCPU   float64 `json:"sys_cpu"`  // seconds
	MaxRSSKB int64   `json:"maxrss_kb"`
	Note     string  `json:"note,omitempty"`
}

// Scale is what a scale test measures (bench/scale), beyond the client's
// name; bench/report reads it back.
type Scale struct {
	Kind        string  `json:"kind"` // "scale"; empty in load results
	Transfers   int     `json:"transfers"`
	InFlight    int     `json:"inflight"`
	Failed      int     `json:"failed"`
	PeakThreads int     `json:"peak_threads"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	RSSPerKB    float64 `json:"rss_per_transfer_kb"`
	RampSeconds float64 `json:"ramp_seconds"`
	CancelSecs  float64 `json:"cancel_seconds"`
	FDs         int     `json:"fds"`
}

// GetHTTP fetches url with client, discards the body and returns its size;
// a status other than 200, or another protocol than HTTP/2 when h2 is
// asked for, is an error.
func GetHTTP(client *http.Client, url string, h2 bool) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err == nil && h2 && resp.ProtoMajor != 2 {
		err = fmt.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	return n, err
}

// A Fetch does one request and returns the body bytes received.
type Fetch func() (int64, error)

// Run runs c.Workers workers, each calling the fetch made by newWorker,
// until c.Requests requests have been started, and returns the result with
// the process's CPU time (getrusage, RUSAGE_SELF) measured over the run and
// its peak RSS. At most 10 error messages are printed to stderr.
func Run(client string, c Config, newWorker func(i int) (Fetch, error)) Result {
	fetches := make([]Fetch, c.Workers)
	for i := range fetches {
		f, err := newWorker(i)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: worker %d: %v\n", client, i, err)
			os.Exit(1)
		}
		fetches[i] = f
	}
	var next, done, errs, bytes atomic.Int64
	var wg sync.WaitGroup
	if c.Profile != "" {
		f, err := os.Create(c.Profile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	if c.Trace != "" {
		f, err := os.Create(c.Trace)
		if err == nil {
			trace.Start(f)
			defer func() { trace.Stop(); f.Close() }()
		}
	}
	before := rusage()
	start := time.Now()
	for _, f := range fetches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(c.Requests) {
				n, err := f()
				bytes.Add(n)
				if err != nil {
					if errs.Add(1) <= 10 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", client, err)
					}
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := rusage()
	return Result{
		Client: client, Label: c.Label, Workers: c.Workers,
		Requests: done.Load(), Errors: errs.Load(), Bytes: bytes.Load(),
		Seconds:  elapsed.Seconds(),
		UserCPU:  tv(after.Utime) - tv(before.Utime),
		SysCPU:   tv(after.Stime) - tv(before.Stime),
		MaxRSSKB: after.Maxrss,
	}
}

// Print writes r as one JSON line on stdout, and exits non-zero if any
// request failed.
func Print(r Result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	if r.Errors > 0 {
		os.Exit(1)
	}
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
