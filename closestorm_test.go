package curlpoll_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

// closeLimit bounds a Close under a storm: it must not hang.
const closeLimit = 30 * time.Second

// closePhases are where a transfer can be when Close comes: each names a
// fault, a mode and how the caller consumes the transfer.
var closePhases = []struct {
	name  string
	f     faultserver.Fault
	mode  faultserver.Mode
	query string
	read  int // 0: read all, 1: read nothing (the transfer pauses), 2: wait for Done, read nothing
}{
	{"connecting", "", 0, "", 0}, // a blackholed address
	{"TLS handshake", faultserver.TLSHandshakeStall, faultserver.TLS1, "", 0},
	{"waiting for headers", faultserver.StallHeaders, faultserver.HTTP1, "", 0},
	{"mid-headers", faultserver.StallMidHeaders, faultserver.HTTP1, "", 0},
	{"mid-body", faultserver.StallMidBody, faultserver.HTTP1, "", 0},
	{"h2c mid-body", faultserver.StallMidBody, faultserver.H2C, "", 0},
	{"h2 over TLS waiting", faultserver.StallHeaders, faultserver.TLS2, "", 0}, // fewer: see run
	{"paused", faultserver.OK, faultserver.HTTP1, "n=2000000", 1},
	{"reading a trickle", faultserver.Trickle, faultserver.HTTP1, "n=100000&gap=1ms", 0},
	{"done, not closed", faultserver.OK, faultserver.HTTP1, "n=100", 2},
	{"queued", faultserver.OK, faultserver.HTTP1, "n=100", 0}, // started just before Close
}

// TestCloseStorm starts thousands of transfers on one Multi, in every phase
// from queued to finished, and closes the Multi under them: Close must
// return promptly, every transfer must end exactly once (with ErrClosed
// unless it had finished), and nothing may leak.
func TestCloseStorm(t *testing.T) {
	perPhase := 200
	if testing.Short() {
		perPhase = 50
	}
	checkLeaks(t)
	s := newFaultServer(t)
	hole := blackhole(t)
	m, err := curlpoll.NewMulti()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	var started, ended, closedErrs, finished atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(closePhases)*perPhase)
	run := func(ph int) {
		defer wg.Done()
		p := closePhases[ph]
		e, err := curlpoll.NewEasy()
		if err != nil {
			errs <- err
			return
		}
		defer e.Close()
		url := "http://" + hole + "/"
		if p.f != "" {
			url = s.URL(p.f, p.mode, p.query)
		}
		setupEasy(t, e, s, p.mode, url)
		tr, err := m.Start(context.Background(), e)
		if errors.Is(err, curlpoll.ErrClosed) {
			ended.Add(1)
			closedErrs.Add(1)
			return
		}
		if err != nil {
			errs <- fmt.Errorf("%s: Start: %v", p.name, err)
			return
		}
		started.Add(1)
		switch p.read {
		case 0:
			_, err = io.Copy(io.Discard, tr)
		case 1, 2:
			<-tr.Done()
			err = tr.Err()
		}
		ended.Add(1)
		switch {
		case errors.Is(err, curlpoll.ErrClosed):
			closedErrs.Add(1)
		case err == nil:
			finished.Add(1)
		default:
			errs <- fmt.Errorf("%s: %v, want ErrClosed or success", p.name, err)
		}
		tr.Close()
	}
	total := 0
	for ph := range closePhases {
		n := perPhase
		switch closePhases[ph].name {
		case "queued":
			continue
		case "h2 over TLS waiting":
			n /= 5 // TLS handshakes are dear under -race
		}
		for range n {
			wg.Add(1)
			total++
			go run(ph)
		}
	}
	// Let the transfers reach their phases, then queue more and close.
	time.Sleep(500 * time.Millisecond)
	if st, err := m.Stats(); err == nil {
		t.Logf("before Close: %d transfers attached, %d sockets", st.Active, st.Sockets)
	}
	for range perPhase {
		wg.Add(1)
		total++
		go run(len(closePhases) - 1)
	}
	start := time.Now()
	m.Close()
	closeTook := time.Since(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("transfers still running 10 s after Close: %d of %d ended", ended.Load(), total)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if int(ended.Load()) != total {
		t.Errorf("%d of %d transfers ended", ended.Load(), total)
	}
	// Close must not hang. Its duration is logged: about 1.5 s without
	// -race, 3 to 15 s with it on a loaded 2-core machine.
	if closeTook > closeLimit {
		t.Errorf("Close took %v", closeTook)
	}
	if closedErrs.Load() < int64(total/2) {
		t.Errorf("only %d of %d transfers saw ErrClosed: Close came too late to test much", closedErrs.Load(), total)
	}
	t.Logf("%d transfers: Close took %v; %d ended with ErrClosed, %d had finished", total, closeTook, closedErrs.Load(), finished.Load())
}

// TestTransportCloseStorm closes a Transport while thousands of requests
// are waiting for headers, reading bodies, paused or queued.
func TestTransportCloseStorm(t *testing.T) {
	perPhase := 200
	if testing.Short() {
		perPhase = 50
	}
	checkLeaks(t)
	s := newFaultServer(t)
	tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	urls := []string{
		s.URL(faultserver.StallHeaders, faultserver.HTTP1, ""),
		s.URL(faultserver.StallMidBody, faultserver.HTTP1, ""),
		s.URL(faultserver.StallMidBody, faultserver.TLS2, ""),
		s.URL(faultserver.OK, faultserver.HTTP1, "n=2000000"),
		s.URL(faultserver.Trickle, faultserver.HTTP1, "n=100000&gap=1ms"),
		s.URL(faultserver.TLSHandshakeStall, faultserver.TLS1, ""),
	}
	var wg sync.WaitGroup
	var ended, closed atomic.Int64
	errs := make(chan error, len(urls)*perPhase)
	total := 0
	for i := range len(urls) * perPhase {
		u := urls[i%len(urls)]
		if u == urls[2] && i%5 != 0 {
			continue // TLS handshakes are dear under -race: fewer of them
		}
		total++
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(u)
			if err == nil {
				if i%2 == 0 {
					time.Sleep(time.Second) // let it pause: read after Close
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			ended.Add(1)
			switch {
			case errors.Is(err, curlpoll.ErrClosed):
				closed.Add(1)
			case err != nil && err.Error() == "http: read on closed response body":
				closed.Add(1)
			case err != nil:
				errs <- fmt.Errorf("%s: %v, want ErrClosed", u, err)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	tr.Close()
	took := time.Since(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("requests still running 10 s after Close: %d ended", ended.Load())
	}
	close(errs)
	n := 0
	for err := range errs {
		if n++; n < 20 {
			t.Error(err)
		}
	}
	if took > closeLimit {
		t.Errorf("Close took %v", took)
	}
	if closed.Load() < int64(total/2) {
		t.Errorf("only %d requests saw ErrClosed", closed.Load())
	}
	t.Logf("%d requests: Close took %v, %d saw ErrClosed", total, took, closed.Load())
}
