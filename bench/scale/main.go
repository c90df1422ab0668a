// Command scale holds -n transfers open at once against bench/slowserver and
// measures what they cost the client: the peak number of OS threads, the RSS
// per transfer in flight, and the time to cancel them all. It prints one
// JSON line.
//
//	scale -client curlpoll-multi|curlpoll-transport|nethttp -url URL -n 10000
//
// curlpoll-multi starts every transfer with Multi.Start and reads nothing
// until the cancel (no goroutine per transfer: a header function counts
// the transfers in flight). curlpoll-transport and nethttp run one goroutine
// per request, as an http.Client program does, each copying its body to
// io.Discard.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/bench/internal/load"
	"github.com/curlpoll/curlpoll/curlhttp"
)

type result struct {
	Client string `json:"client"`
	load.Scale
	Note string `json:"note,omitempty"`
}

func main() {
	client := flag.String("client", "curlpoll-multi", "curlpoll-multi, curlpoll-transport or nethttp")
	url := flag.String("url", "", "slowserver URL")
	n := flag.Int("n", 10000, "transfers to hold open")
	rampLimit := flag.Duration("ramp", 60*time.Second, "longest wait for all transfers to be in flight")
	flag.Parse()
	if *url == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "scale: -url and -n >= 1 are required")
		os.Exit(2)
	}
	r := result{Client: *client, Scale: load.Scale{Kind: "scale", Transfers: *n, GOMAXPROCS: runtime.GOMAXPROCS(0)}}

	status, samplerStatus := newProcReader(), newProcReader()
	fdDir, err := os.Open("/proc/self/fd")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	var peak atomic.Int64
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if th := samplerStatus.field("Threads"); th > peak.Load() {
				peak.Store(th)
			}
			select {
			case <-stopSampler:
				return
			case <-t.C:
			}
		}
	}()

	var h holder
	switch *client {
	case "curlpoll-multi":
		h = newMultiHolder()
	case "curlpoll-transport":
		tr := &curlhttp.Transport{}
		h = &httpHolder{client: &http.Client{Transport: tr}, stop: func() { tr.Close() }}
	case "nethttp":
		tr := &http.Transport{MaxIdleConnsPerHost: *n}
		h = &httpHolder{client: &http.Client{Transport: tr}, stop: tr.CloseIdleConnections}
	default:
		fmt.Fprintln(os.Stderr, "scale: unknown client", *client)
		os.Exit(2)
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := status.field("VmRSS")

	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	h.start(ctx, *url, *n)
	deadline := time.Now().Add(*rampLimit)
	for h.inFlight()+h.failed() < *n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.RampSeconds = time.Since(start).Seconds()
	time.Sleep(time.Second) // let every transfer get its first trickled byte
	r.InFlight, r.Failed = h.inFlight(), h.failed()
	rss := status.field("VmRSS")
	if r.InFlight > 0 {
		r.RSSPerKB = float64(rss-rss0) / float64(r.InFlight)
	}
	r.FDs = openFDs(fdDir)

	start = time.Now()
	cancel()
	h.wait()
	r.CancelSecs = time.Since(start).Seconds()
	close(stopSampler)
	<-samplerDone
	r.PeakThreads = int(peak.Load())
	h.close()
	if r.InFlight < r.Transfers {
		r.Note = h.firstError()
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

type holder interface {
	start(ctx context.Context, url string, n int)
	inFlight() int
	failed() int
	wait() // until every transfer has ended after the cancel
	close()
	firstError() string
}

// multiHolder holds transfers with Multi.Start, with no goroutine each.
type multiHolder struct {
	m         *curlpoll.Multi
	easies    []*curlpoll.Easy
	transfers []*curlpoll.Transfer
	up, fails atomic.Int64
	errMu     sync.Mutex
	err       string
}

func newMultiHolder() *multiHolder {
	m, err := curlpoll.NewMulti()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	return &multiHolder{m: m}
}

func (h *multiHolder) noteErr(err error) {
	h.fails.Add(1)
	h.errMu.Lock()
	if h.err == "" {
		h.err = err.Error()
	}
	h.errMu.Unlock()
}

func (h *multiHolder) start(ctx context.Context, url string, n int) {
	for i := 0; i < n; i++ {
		e, err := curlpoll.NewEasy()
		if err != nil {
			h.noteErr(err)
			continue
		}
		h.easies = append(h.easies, e)
		e.SetURL(url)
		e.SetHeaderFunc(func(line []byte) error {
			if len(bytes.TrimSpace(line)) == 0 {
				h.up.Add(1)
			}
			return nil
		})
		t, err := h.m.Start(ctx, e)
		if err != nil {
			h.noteErr(err)
			continue
		}
		h.transfers = append(h.transfers, t)
	}
}

func (h *multiHolder) inFlight() int { return int(h.up.Load()) }

func (h *multiHolder) failed() int {
	n := int(h.fails.Load())
	for _, t := range h.transfers {
		select {
		case <-t.Done():
			if t.Err() != context.Canceled {
				n++
			}
		default:
		}
	}
	return n
}

func (h *multiHolder) wait() {
	for _, t := range h.transfers {
		<-t.Done()
	}
}

func (h *multiHolder) close() {
	for _, t := range h.transfers {
		t.Close()
	}
	for _, e := range h.easies {
		e.Close()
	}
	h.m.Close()
}

func (h *multiHolder) firstError() string {
	for _, t := range h.transfers {
		select {
		case <-t.Done():
			if err := t.Err(); err != nil && err != context.Canceled {
				return err.Error()
			}
		default:
		}
	}
	return h.err
}

// httpHolder holds transfers with an http.Client, one goroutine each.
type httpHolder struct {
	client    *http.Client
	stop      func() // closes the client's transport
	wg        sync.WaitGroup
	up, fails atomic.Int64
	errMu     sync.Mutex
	err       string
}

func (h *httpHolder) start(ctx context.Context, url string, n int) {
	for i := 0; i < n; i++ {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := h.client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					h.fails.Add(1)
					h.errMu.Lock()
					if h.err == "" {
						h.err = err.Error()
					}
					h.errMu.Unlock()
				}
				return
			}
			h.up.Add(1)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
}

func (h *httpHolder) inFlight() int { return int(h.up.Load()) }
func (h *httpHolder) failed() int   { return int(h.fails.Load()) }
func (h *httpHolder) wait()         { h.wg.Wait() }
func (h *httpHolder) close()        { h.stop() }
func (h *httpHolder) firstError() string {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

// A procReader reads /proc/self/status through a file opened in advance:
// with 10,000 transfers the process may have no descriptor left to open it.
type procReader struct{ f *os.File }

func newProcReader() *procReader {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	return &procReader{f: f}
}

// field returns a number from /proc/self/status (kB for sizes).
func (p *procReader) field(name string) int64 {
	sc := bufio.NewScanner(io.NewSectionReader(p.f, 0, 1<<20))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			fields := strings.Fields(v)
			if len(fields) > 0 {
				n, _ := strconv.ParseInt(fields[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// openFDs counts this process's descriptors through dir, /proc/self/fd
// opened in advance.
func openFDs(dir *os.File) int {
	if _, err := dir.Seek(0, io.SeekStart); err != nil {
		return 0
	}
	names, _ := dir.Readdirnames(-1)
	return len(names) - 1 // dir itself
}
