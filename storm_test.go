package curlpoll_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// slowReader reads a transfer in small pieces with pauses in between, so
// that the transfer is paused and resumed over and over.
func readSlowly(t *testing.T, tr *curlpoll.Transfer, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, seed))
	w := &patternWriter{}
	buf := make([]byte, 48<<10)
	// A late start: the transfer fills its buffer and pauses at least once
	// however fast the reads that follow are (the transfers start at once,
	// so their waits overlap).
	if _, err := tr.Header(); err != nil {
		return 0, err
	}
	time.Sleep(100 * time.Millisecond)
	for {
		n, err := tr.Read(buf[:1+rng.IntN(len(buf)-1)])
		w.Write(buf[:n])
		if err == io.EOF {
			return w.n, w.err
		}
		if err != nil {
			return w.n, err
		}
		if rng.IntN(8) == 0 {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}
}

// pauseStorm runs n concurrent transfers of size bytes, each read slowly.
func pauseStorm(t *testing.T, m *curlpoll.Multi, url string, n int, size int64, setup func(*curlpoll.Easy)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			e.SetURL(fmt.Sprintf("%s/bytes?n=%d", url, size))
			if setup != nil {
				setup(e)
			}
			tr, err := m.Start(context.Background(), e)
			if err != nil {
				t.Error(err)
				return
			}
			defer tr.Close()
			if got, err := readSlowly(t, tr, uint64(i)); got != size || err != nil {
				t.Errorf("transfer %d: %d of %d bytes, %v", i, got, size, err)
			}
		}()
	}
	wg.Wait()
	s, _ := m.Stats()
	t.Logf("%d pauses over %d transfers", s.RecvPauses, n)
	if s.RecvPauses < n {
		t.Errorf("only %d pauses for %d slowly read transfers", s.RecvPauses, n)
	}
}

func TestPauseStormHTTP1(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	pauseStorm(t, m, srv.URL, 24, 4<<20, nil)
}

// TestPauseStormHTTP2 pauses and resumes streams that share one
// multiplexed connection.
func TestPauseStormHTTP2(t *testing.T) {
	// When every stream of the connection is paused, libcurl 7.88 can keep
	// asking to read a socket that no stream reads: the spin guard may then
	// hold the socket back, which is what it is for.
	allowSpins(t)
	checkFDs(t)
	srv, ca := tlsServer(t)
	m := newMulti(t)
	must(t, m.SetMultiplex(true))
	pauseStorm(t, m, srv.URL, 8, 2<<20, func(e *curlpoll.Easy) {
		e.SetCAInfoBlob(ca)
		e.SetPipeWait(true)
	})
}

// TestBlockedUploadDoesNotBlockOthers keeps one upload waiting for its body
// while other transfers on the same Multi run to completion.
func TestBlockedUploadDoesNotBlockOthers(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	pr, pw := io.Pipe()
	up := newEasy(t, srv.URL+"/echo?count=1")
	must(t, up.SetPost(true))
	must(t, up.SetPostFieldSize(-1))
	must(t, up.SetReader(pr))
	var upBody bytes.Buffer
	must(t, up.SetWriter(&upBody))
	upDone := make(chan error, 1)
	go func() { upDone <- m.Do(context.Background(), up) }()
	pw.Write([]byte("first part,"))

	for i := 0; i < 50; i++ {
		e := newEasy(t, srv.URL+"/hello")
		var b bytes.Buffer
		must(t, e.SetWriter(&b))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if err != nil || b.String() != "hello" {
			t.Fatalf("transfer %d beside a blocked upload: %v %q", i, err, b.String())
		}
	}
	select {
	case err := <-upDone:
		t.Fatalf("the upload ended before its body did: %v", err)
	default:
	}
	pw.Write([]byte(" second part"))
	pw.Close()
	if err := <-upDone; err != nil || upBody.String() != "23" {
		t.Fatalf("upload: %v, server counted %q bytes", err, upBody.String())
	}
}
