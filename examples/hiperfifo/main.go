// Command hiperfifo is a Go port of libcurl's docs/examples/hiperfifo.c.
//
// It creates a named pipe (hiper.fifo, or the path given with -fifo), reads
// URLs from it, one a line, and fetches each one concurrently on one shared
// curlpoll.Multi, printing what hiperfifo prints: a line when a transfer is
// added, progress lines, and a line with the result when it is done. Where
// the C program runs a libevent loop around curl_multi_socket_action, this
// one runs a goroutine per URL calling Multi.Do; curlpoll drives the
// multi-socket API from the Go runtime's netpoller underneath.
//
// Try it:
//
//	go run ./examples/hiperfifo &
//	echo https://example.com/ > hiper.fifo
//
// SIGINT (or SIGTERM) stops the transfers in flight, closes the Multi and
// removes the pipe.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/curlpoll/curlpoll"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "hiperfifo:", err)
		os.Exit(1)
	}
}

// run creates the pipe and fetches every URL written into it until ctx is
// done; then it waits for the transfers to stop, closes the Multi, removes
// the pipe and returns nil.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("hiperfifo", flag.ContinueOnError)
	fifo := flags.String("fifo", "hiper.fifo", "path of the named pipe to create and read URLs from")
	verbose := flags.Bool("v", false, "let libcurl describe each transfer on standard error (CURLOPT_VERBOSE)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flags.Args())
	}

	out := &syncWriter{w: stdout}
	in, err := createFIFO(*fifo, out)
	if err != nil {
		return err
	}
	defer os.Remove(*fifo)
	defer in.Close()

	m, err := curlpoll.NewMulti()
	if err != nil {
		return err
	}
	defer m.Close()

	// The read below blocks in the netpoller; closing the pipe ends it.
	stopRead := context.AfterFunc(ctx, func() { in.Close() })
	defer stopRead()

	g := &global{multi: m, out: out, verbose: *verbose}
	var wg sync.WaitGroup
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		url := strings.TrimSpace(sc.Text())
		if url == "" {
			continue
		}
		wg.Go(func() { g.fetch(ctx, url) })
	}
	readErr := sc.Err()
	// The transfers share ctx: once it is done they stop, and Do returns.
	wg.Wait()
	if ctx.Err() != nil {
		return nil // interrupted: the normal way out
	}
	if readErr == nil {
		readErr = io.ErrUnexpectedEOF // cannot happen: we hold a write end
	}
	return fmt.Errorf("reading %s: %w", *fifo, readErr)
}

// createFIFO makes the named pipe at path, as hiperfifo's init_fifo does:
// it refuses to replace a regular file, replaces anything else, and opens
// the pipe for reading and writing, so that the read never sees end of
// file when a writer closes its end.
func createFIFO(path string, out io.Writer) (*os.File, error) {
	fmt.Fprintf(out, "Creating named pipe %q\n", path)
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, &fs.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	// O_RDWR does not wait for a writer. Go puts the pipe on the netpoller,
	// so a blocked read holds no OS thread and Close interrupts it.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	fmt.Fprintf(out, "Now, pipe some URL's into > %s\n", path)
	return f, nil
}

// global is what the transfers share, like hiperfifo's GlobalInfo.
type global struct {
	multi   *curlpoll.Multi
	out     io.Writer
	verbose bool

	// mu guards running.
	mu      sync.Mutex
	running int
}

// fetch runs one transfer, like hiperfifo's new_conn and check_multi_info.
func (g *global) fetch(ctx context.Context, url string) {
	e, err := curlpoll.NewEasy()
	if err != nil {
		fmt.Fprintf(g.out, "DONE: %s => %v\n", url, err)
		return
	}
	defer e.Close()
	if err := setup(e, url, g.out, g.verbose); err != nil {
		fmt.Fprintf(g.out, "DONE: %s => %v\n", url, err)
		return
	}

	g.mu.Lock()
	g.running++
	g.mu.Unlock()
	fmt.Fprintf(g.out, "Adding easy %p to multi %p (%s)\n", e, g.multi, url)

	err = g.multi.Do(ctx, e)

	g.mu.Lock()
	g.running--
	remaining := g.running
	g.mu.Unlock()
	effective, _ := e.EffectiveURL()
	if effective == "" {
		effective = url
	}
	fmt.Fprintf(g.out, "REMAINING: %d\n%s\n", remaining, doneLine(effective, err))
}

// setup sets the options hiperfifo's new_conn sets: the body is thrown
// away, progress is reported, and a transfer slower than 10 bytes a
// second for 3 seconds fails.
func setup(e *curlpoll.Easy, url string, out io.Writer, verbose bool) error {
	return errors.Join(
		e.SetURL(url),
		e.SetWriter(io.Discard),
		e.SetVerbose(verbose),
		e.SetLowSpeedLimit(10, 3*time.Second),
		// The progress function runs on a goroutine of its transfer; out
		// is shared by every transfer's, so it is locked.
		e.SetProgressFunc(func(p curlpoll.Progress) error {
			fmt.Fprintf(out, "Progress: %s (%d/%d)\n", url, p.Downloaded, p.DownloadTotal)
			return nil
		}),
	)
}

// doneLine formats a transfer's result as hiperfifo does, "DONE: URL =>
// (CURLcode) error buffer". Errors that are not libcurl's, such as a
// cancelled context, are printed as they are.
func doneLine(url string, err error) string {
	var ce *curlpoll.Error
	switch {
	case err == nil:
		return fmt.Sprintf("DONE: %s => (0) ", url)
	case errors.As(err, &ce):
		text := ce.Detail
		if text == "" {
			text = ce.Error()
		}
		return fmt.Sprintf("DONE: %s => (%d) %s", url, int(ce.Code), text)
	default:
		return fmt.Sprintf("DONE: %s => %v", url, err)
	}
}

// syncWriter serializes writes: the transfers' goroutines and the Multi's
// driver (progress) print concurrently.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
