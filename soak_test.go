package curlpoll_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

var soakFor = flag.Duration("soak", 0, "run TestSoak for this long (make soak)")

// rssKB returns the resident set size of the process.
func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// TestSoak runs mixed load with faults (the storm's) for -soak, 64
// requests at a time, through a Multi and a Transport, sampling goroutines,
// open descriptors, live handles and RSS every tenth of the run. Between
// samples taken with the same load they must stay flat; after the load,
// everything is back to the baseline. It prints a table for SOAK.md.
func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("run with -soak=2m (make soak)")
	}
	checkLeaks(t)
	s := newFaultServer(t)
	m := newMulti(t)
	tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	type sample struct {
		at                  time.Duration
		requests            int64
		goroutines, fds, kb int
		live                curlpoll.Live
	}
	var samples []sample
	var mu sync.Mutex
	var requests int64
	stop := time.Now().Add(*soakFor)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(stop) {
				sf := stormFaults[rng.IntN(len(stormFaults))]
				mode := faultserver.HTTP1
				if rng.IntN(2) == 0 && faultserver.Supports(sf.f, faultserver.TLS2) && rng.IntN(4) == 0 {
					mode = faultserver.TLS2
				}
				if !faultserver.Supports(sf.f, mode) {
					mode = faultserver.H2C
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(200))*time.Millisecond)
				url := s.URL(sf.f, mode, sf.query)
				var body []byte
				var err error
				if rng.IntN(2) == 0 || mode == faultserver.H2C {
					body, err = stormMulti(m, s, mode, url, ctx, rng.IntN(2) == 0, mode.HTTP2() && connFaults[sf.f])
				} else {
					req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
					req.Close = mode.HTTP2() && connFaults[sf.f]
					_, body, err = do(client, req)
				}
				cancel()
				if cerr := checkStormOutcome(sf.f, sf.query, sf.ok, body, err); cerr != nil {
					t.Errorf("%s: %v", mode, cerr)
				}
				mu.Lock()
				requests++
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(*soakFor / 10)
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-time.After(time.Until(stop)):
			done = true
		}
		runtime.GC()
		mu.Lock()
		n := requests
		mu.Unlock()
		samples = append(samples, sample{time.Since(start).Round(time.Second), n, runtime.NumGoroutine(), openFDs(t), rssKB(), curlpoll.LiveCounts()})
	}
	tick.Stop()
	wg.Wait()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| time | requests | goroutines | fds | RSS MB | easies | cgo handles |\n|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %v | %d | %d | %d | %.1f | %d | %d |\n", s.at, s.requests, s.goroutines, s.fds, float64(s.kb)/1024, s.live.Easies, s.live.Handles)
	}
	fmt.Fprintf(&b, "| after | %d | %d | %d | %.1f | %d | %d |\n", requests, runtime.NumGoroutine(), openFDs(t), float64(rssKB())/1024,
		curlpoll.LiveCounts().Easies, curlpoll.LiveCounts().Handles)
	t.Log(b.String())
	// Flat under load: from the second sample on (the first includes the
	// warm-up), nothing grows by more than the load's own jitter.
	if len(samples) >= 3 {
		first, last := samples[1], samples[len(samples)-1]
		if last.goroutines > first.goroutines*3/2+50 || last.fds > first.fds*3/2+50 || last.kb > first.kb*3/2 {
			t.Errorf("growth under steady load: %+v then %+v", first, last)
		}
	}
}
