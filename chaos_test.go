package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

var stormN = flag.Int("storm.n", 10000, "requests in the cancellation storm (2,000 with -short)")

// stormFaults are the faults a storm draws from, each with the errors
// (besides the deadline's) that its caller may see, on libcurl 7.88 or 8.x:
// the codes each version gives are TestFaultsMulti's to check.
var stormFaults = []struct {
	f     faultserver.Fault
	query string
	ok    []curlpoll.Code // nil: the request must succeed (or meet its deadline)
}{
	{faultserver.OK, "n=2000", nil},
	{faultserver.OK, "n=100000", nil},
	{faultserver.Trickle, "n=20&gap=1ms", nil},
	{faultserver.CloseNoLength, "", nil},
	{faultserver.Refuse, "", []curlpoll.Code{curlpoll.ErrCouldntConnect}},
	{faultserver.Silent, "", []curlpoll.Code{}},
	{faultserver.StallHeaders, "", []curlpoll.Code{}},
	{faultserver.StallMidBody, "", []curlpoll.Code{}},
	{faultserver.RSTHeaders, "", []curlpoll.Code{curlpoll.ErrRecvError, curlpoll.ErrSendError}},
	{faultserver.RSTMidBody, "", []curlpoll.Code{curlpoll.ErrRecvError, curlpoll.ErrSendError}},
	{faultserver.CloseMidBody, "", []curlpoll.Code{curlpoll.ErrPartialFile}},
	{faultserver.BadChunk, "", []curlpoll.Code{curlpoll.ErrRecvError}},
	{faultserver.Garbage, "", []curlpoll.Code{curlpoll.ErrUnsupportedProtocol, curlpoll.ErrWeirdServerReply}},
	{faultserver.H2RSTStream, "", []curlpoll.Code{curlpoll.ErrHTTP2Stream}},
	{faultserver.H2GoAway, "", []curlpoll.Code{curlpoll.ErrHTTP2, curlpoll.ErrRecvError, curlpoll.ErrSendError}},
	{faultserver.TLSExpired, "", []curlpoll.Code{curlpoll.ErrPeerFailedVerification}},
}

// connFaults end the connection, not just the stream.
var connFaults = map[faultserver.Fault]bool{
	faultserver.RSTHeaders: true, faultserver.RSTMidBody: true,
	faultserver.CloseMidBody: true, faultserver.H2GoAway: true,
}

// stormResult is one request's outcome, for the checks.
type stormResult struct {
	returns atomic.Int32
	err     error
	late    time.Duration
	kind    int // 0: a response, 1: the fault's error, 2: the deadline
}

// TestCancellationStorm sends -storm.n requests with random deadlines to
// random faults, over HTTP/1.1, h2c and HTTP/2 over TLS, half through a
// Multi (Do and Start) and half through a Transport, a few hundred at a
// time. Every request must return exactly once, in time, with a response
// or an error its fault or its deadline explains; nothing may leak.
func TestCancellationStorm(t *testing.T) {
	n := *stormN
	if testing.Short() && n > 2000 {
		n = 2000
	}
	checkLeaks(t)
	s := newFaultServer(t)
	// Its faults stall transfers on purpose, until their deadlines: on a
	// loaded machine a deadline can come more than a second late, and a
	// transfer not moved for a second meets the stall rescue, rightly.
	allowRescues(t)
	m := newMulti(t)
	tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
	t.Cleanup(func() { tr.Close() })
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	trH2C := &curlhttp.Transport{Protocols: &h2c}
	t.Cleanup(func() { trH2C.Close() })

	results := make([]stormResult, n)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		sf := stormFaults[rng.IntN(len(stormFaults))]
		mode := faultserver.Modes[rng.IntN(len(faultserver.Modes))]
		if rng.IntN(8) != 0 && mode == faultserver.TLS1 || mode == faultserver.TLS2 && rng.IntN(4) != 0 {
			mode = faultserver.HTTP1 // handshakes are dear under -race: fewer of them
		}
		if !faultserver.Supports(sf.f, mode) {
			mode = faultserver.H2C
			if !faultserver.Supports(sf.f, mode) {
				mode = faultserver.HTTP1
			}
		}
		// Deadlines from 0 (already past) to 200 ms; faults that never end
		// always get one.
		deadline := time.Duration(rng.IntN(200)) * time.Millisecond
		if sf.ok != nil && len(sf.ok) == 0 && deadline == 0 {
			deadline = time.Millisecond
		}
		if sf.ok == nil && rng.IntN(3) == 0 {
			deadline = -1 // none
		}
		way := rng.IntN(3) // 0: Do, 1: Start and read, 2: Transport
		// A fault that ends an HTTP/2 connection ends every stream on it,
		// and may strike after the request that asked for it has met its
		// deadline: such requests use a connection that no other uses
		// (with multiplexing, libcurl 8.1+, only a Multi of their own
		// ensures that).
		own := mode.HTTP2() && connFaults[sf.f]
		ok := sf.ok
		if (mode == faultserver.TLS1 || mode == faultserver.TLS2) && libcurlTLSEOFIsError() &&
			(sf.f == faultserver.CloseNoLength || sf.f == faultserver.CloseMidBody) &&
			!(way == 2 && transportTLSEOFIsPlain(mode)) {
			ok = []curlpoll.Code{curlpoll.ErrRecvError, curlpoll.ErrSendError} // see TestFaultsMulti
		}
		url := s.URL(sf.f, mode, sf.query)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx := context.Background()
			if deadline >= 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, deadline)
				defer cancel()
			}
			began := time.Now()
			var body []byte
			var err error
			switch way {
			case 0, 1:
				mm := m
				if own {
					if mm, err = curlpoll.NewMulti(); err != nil {
						break
					}
					defer mm.Close()
				}
				body, err = stormMulti(mm, s, mode, url, ctx, way == 1, own)
			case 2:
				c := tr
				if mode == faultserver.H2C {
					c = trH2C
				}
				if own {
					c = &curlhttp.Transport{CAPEM: s.CAPEM(), Protocols: c.Protocols}
					defer c.Close()
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Close = own
				_, body, err = do(&http.Client{Transport: c}, req)
				err = curlCode(err)
			}
			r := &results[i]
			r.returns.Add(1)
			// Generous: the storm runs beside other tests on a machine
			// that may be busy; what it catches is a request that waits
			// for a timeout or for ever.
			limit := 30 * time.Second
			if deadline >= 0 {
				limit = deadline + 10*time.Second
			}
			if el := time.Since(began); el > limit {
				r.late = el
			}
			switch {
			case err == nil:
			case errors.Is(err, context.DeadlineExceeded):
				r.kind = 2
			default:
				r.kind = 1
			}
			if r.err = checkStormOutcome(sf.f, sf.query, ok, body, err); r.err != nil {
				r.err = fmt.Errorf("%s, way %d, deadline %v: %w", mode, way, deadline, r.err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var bad int
	var kinds [3]int
	for i := range results {
		r := &results[i]
		kinds[r.kind]++
		switch {
		case r.returns.Load() != 1:
			t.Errorf("request %d returned %d times", i, r.returns.Load())
		case r.err != nil:
			t.Errorf("request %d: %v", i, r.err)
		case r.late > 0:
			t.Errorf("request %d returned after %v", i, r.late)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many failures")
		}
	}
	st, _ := m.Stats()
	t.Logf("%d requests in %v: %d responses, %d fault errors, %d deadlines; Multi: %d completed, %d epoll_ctl calls",
		n, elapsed, kinds[0], kinds[1], kinds[2], st.Completed, st.EpollCtl)
	// The storm must mix its outcomes, or it tests less than it claims. On
	// a loaded machine more deadlines come first (with four busy loops on
	// two cores and GOMAXPROCS=1: 926 responses and 688 fault errors of
	// 10,000, under a tenth each), so the bound is a twenty-fifth.
	for k, c := range kinds {
		if c < n/25 {
			t.Errorf("only %d of %d requests ended %s", c, n, [...]string{"with a response", "with the fault's error", "at their deadline"}[k])
		}
	}
}

// stormMulti runs one storm request on m, with Do or with Start and Read.
func stormMulti(m *curlpoll.Multi, s *faultserver.Server, mode faultserver.Mode, url string, ctx context.Context, start, own bool) ([]byte, error) {
	e, err := curlpoll.NewEasy()
	if err != nil {
		return nil, err
	}
	defer e.Close()
	e.SetURL(url)
	e.SetCAInfoBlob(s.CAPEM())
	switch mode {
	case faultserver.H2C:
		e.SetHTTPVersion(curlpoll.HTTPVersion2PriorKnown)
		e.SetForbidReuse(true)
	case faultserver.TLS2:
		e.SetHTTPVersion(curlpoll.HTTPVersion2TLS)
	default:
		e.SetHTTPVersion(curlpoll.HTTPVersion1_1)
	}
	if own {
		e.SetForbidReuse(true)
	}
	var buf bytes.Buffer
	if !start {
		e.SetWriter(&buf)
		err := m.Do(ctx, e)
		return buf.Bytes(), err
	}
	t, err := m.Start(ctx, e)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	_, err = io.Copy(&buf, t)
	return buf.Bytes(), err
}

// checkStormOutcome says what is wrong with a storm request's outcome.
func checkStormOutcome(f faultserver.Fault, query string, ok []curlpoll.Code, body []byte, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // any request may meet its deadline
	}
	if errors.Is(err, curlpoll.ErrClosed) {
		return fmt.Errorf("%s: %v: nothing was closed", f, err)
	}
	if ok == nil {
		if err != nil {
			return fmt.Errorf("%s?%s: %v", f, query, err)
		}
		want := 1000
		if _, v, found := strings.Cut(query, "n="); found {
			fmt.Sscanf(v, "%d", &want)
		}
		if !bytes.Equal(body, faultserver.Body(want)) {
			return fmt.Errorf("%s?%s: %d bytes, wrong body", f, query, len(body))
		}
		return nil
	}
	for _, c := range ok {
		if errors.Is(err, c) {
			return nil
		}
	}
	return fmt.Errorf("%s: error %v, want the deadline's or one of %v", f, err, ok)
}
