// Command curlpoll-multi is the benchmark client for curlpoll's low-level
// API: one Multi, N goroutines, each running Multi.Do on its own reused
// Easy, the body counted and discarded.
//
// For -h2 it turns HTTP/2 multiplexing on with Multi.SetMultiplex(true):
// NewMulti turns it off on libcurl older than 8.1.0 (a paused stream can
// stall the others there; the benchmark never pauses: its writer never
// blocks), and sets CURLOPT_PIPEWAIT so that all N streams share one
// connection, with CURLMOPT_MAX_CONCURRENT_STREAMS raised above libcurl's
// default of 100.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/bench/internal/load"
)

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	cfg := load.Flags("curlpoll-multi")
	m, err := curlpoll.NewMulti()
	if err != nil {
		fmt.Fprintln(os.Stderr, "curlpoll-multi:", err)
		os.Exit(1)
	}
	defer m.Close()
	// As c-multisocket: at most N connections, all kept for reuse (libcurl's
	// default cache of 4 × the attached handles shrinks and closes
	// connections while handles are between transfers).
	if err := m.SetMaxHostConnections(cfg.Workers); err == nil {
		err = m.SetMaxConnects(cfg.Workers)
	}
	note := ""
	if cfg.HTTP2 {
		if err := m.SetMultiplex(true); err != nil {
			fmt.Fprintln(os.Stderr, "curlpoll-multi:", err)
			os.Exit(1)
		}
		m.SetMaxConcurrentStreams(1000)
		note = "SetMultiplex(true)"
	}
	ctx := context.Background()
	r := load.Run("curlpoll-multi", cfg, func(int) (load.Fetch, error) {
		e, err := curlpoll.NewEasy()
		if err != nil {
			return nil, err
		}
		var c counter
		err = e.SetURL(cfg.URL)
		if err == nil {
			err = e.SetWriter(&c)
		}
		if err == nil && cfg.HTTP2 {
			err = e.SetHTTPVersion(curlpoll.HTTPVersion2TLS)
			if err == nil {
				err = e.SetPipeWait(true)
			}
		}
		if err == nil && cfg.CAFile != "" {
			err = e.SetCAInfo(cfg.CAFile)
		}
		if err != nil {
			return nil, err
		}
		return func() (int64, error) {
			c.n = 0
			err := m.Do(ctx, e)
			if err == nil {
				if code, _ := e.ResponseCode(); code != 200 {
					err = fmt.Errorf("status %d", code)
				}
			}
			return c.n, err
		}, nil
	})
	r.Note = note
	load.Print(r)
}
