// Command parallel downloads many URLs at once with curlpoll, showing a live
// progress bar for each transfer in flight and one for the total.
//
//	parallel [-n 4] [-o DIR] [-i FILE] URL...
//	parallel -demo        # download from an embedded server on 127.0.0.1
//
// URLs come from the arguments and from -i FILE (one per line; blank lines
// and lines starting with # are skipped). Each one is saved in DIR under the
// last element of its path, first as NAME.part, renamed to NAME once
// complete. A NAME that exists is skipped. A NAME.part that exists is
// resumed with a Range request; a server that ignores the Range sends the
// whole file again, which replaces it.
//
// Ctrl-C stops every transfer at once and leaves the .part files for the
// next run to resume. At the end a table sums up each URL: its result,
// bytes, where it resumed, time, rate and connection. The exit status is 0
// when every file is complete, 1 when some failed and 130 when interrupted.
//
// The bars (github.com/vbauerster/mpb/v8) are drawn on stderr when it is a
// terminal (-bars auto), and can be forced on or off. Transfers run on one
// curlhttp.Transport in an http.Client: libcurl does the HTTP, the Go
// runtime's netpoller the waiting.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/curlhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// run downloads what args say and returns the exit status. The summary
// goes to stdout; bars, the demo server's address and errors to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("parallel", flag.ContinueOnError)
	flags.SetOutput(stderr)
	n := flags.Int("n", 4, "transfers to run at once")
	dir := flags.String("o", ".", "directory to save files in")
	list := flags.String("i", "", "file of URLs, one per line")
	bars := flags.String("bars", "auto", "progress bars: auto (when stderr is a terminal), on or off")
	demo := flags.Bool("demo", false, "serve demo files on 127.0.0.1 and download them")
	rate := flags.Int64("demo-rate", 2<<20, "bytes per second the demo server sends per transfer; 0 for no limit")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: parallel [flags] URL...\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	urls := flags.Args()
	if *list != "" {
		more, err := readList(*list)
		if err != nil {
			fmt.Fprintln(stderr, "parallel:", err)
			return exitUsage
		}
		urls = append(urls, more...)
	}
	if *demo {
		srv := startDemoServer(*rate)
		defer srv.Close()
		urls = append(urls, srv.urls()...)
		fmt.Fprintf(stderr, "demo server: %s, saving to %s\n", srv.URL, *dir)
	}
	if len(urls) == 0 || *n < 1 {
		flags.Usage()
		return exitUsage
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "parallel:", err)
		return exitFailed
	}
	showBars := *bars == "on" || (*bars == "auto" && isTerminal(stderr))

	tr := &curlhttp.Transport{}
	defer tr.Close()
	d := &downloader{client: &http.Client{Transport: tr}, dir: *dir}
	if showBars {
		d.progress = mpb.NewWithContext(ctx, mpb.WithOutput(stderr), mpb.WithWidth(40),
			mpb.WithRefreshRate(150*time.Millisecond))
		d.total = d.progress.AddBar(0, mpb.BarPriority(math.MaxInt),
			mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR),
				decor.Any(func(decor.Statistics) string {
					return fmt.Sprintf("%d/%d files", d.finished.Load(), len(urls))
				}, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
				decor.Percentage(decor.WCSyncSpace)))
	}

	jobs := d.jobs(urls)
	sem := make(chan struct{}, *n)
	var wg sync.WaitGroup
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			j.result, j.err = "interrupted", ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.download(ctx, j)
			d.finished.Add(1)
		}()
	}
	wg.Wait()
	if d.progress != nil {
		d.total.SetTotal(-1, true)
		d.progress.Wait()
	}
	summarize(stdout, jobs)

	status := exitOK
	for _, j := range jobs {
		if j.err != nil {
			status = exitFailed
		}
	}
	if ctx.Err() != nil {
		status = exitInterrupted
	}
	return status
}

// readList reads URLs from a file, one per line.
func readList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			urls = append(urls, l)
		}
	}
	return urls, sc.Err()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// downloader runs the downloads; its progress container is nil without bars.
type downloader struct {
	client    *http.Client
	dir       string
	progress  *mpb.Progress
	total     *mpb.Bar
	totalSize atomic.Int64 // the sizes known so far, for the total bar
	finished  atomic.Int64
}

// job is one URL and what became of it.
type job struct {
	url  string
	name string // the file's name in the directory

	result  string // done, exists, failed, interrupted
	err     error
	status  int   // the HTTP status, 0 if none
	got     int64 // bytes received in this run
	resumed int64 // bytes the .part file had before
	size    int64 // the file's size, -1 if unknown
	elapsed time.Duration
	conn    string // the connection, from curlhttp.ResponseInfo
}

// jobs names a file for each URL, unique in the directory.
func (d *downloader) jobs(urls []string) []*job {
	used := map[string]int{}
	var jobs []*job
	for _, u := range urls {
		name := fileName(u)
		if k := used[name]; k > 0 {
			ext := path.Ext(name)
			name = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), k+1, ext)
		}
		used[fileName(u)]++
		jobs = append(jobs, &job{url: u, name: name, size: -1})
	}
	return jobs
}

// fileName returns the last element of the URL's path, or index.html.
func fileName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "download"
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == ".." || name == "" {
		return "index.html"
	}
	return name
}

// download fetches one URL into its .part file, resuming what is there,
// and renames it once complete.
func (d *downloader) download(ctx context.Context, j *job) {
	start := time.Now()
	defer func() { j.elapsed = time.Since(start) }()
	final := filepath.Join(d.dir, j.name)
	part := final + ".part"
	if _, err := os.Stat(final); err == nil {
		j.result = "exists"
		return
	}
	if fi, err := os.Stat(part); err == nil {
		j.resumed = fi.Size()
	}
	fail := func(err error) {
		j.err = err
		j.result = "failed"
		if ctx.Err() != nil {
			j.result = "interrupted"
		}
	}

	req, err := http.NewRequestWithContext(ctx, "GET", j.url, nil)
	if err != nil {
		fail(err)
		return
	}
	if j.resumed > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", j.resumed))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		fail(err)
		return
	}
	defer resp.Body.Close()
	j.status = resp.StatusCode

	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && j.resumed > 0:
		start, size, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != j.resumed {
			fail(fmt.Errorf("unexpected Content-Range %q", resp.Header.Get("Content-Range")))
			return
		}
		j.size = size
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && j.resumed > 0:
		// "bytes */N": complete if N is what we have.
		if _, size, ok := contentRange(resp.Header.Get("Content-Range")); ok && size == j.resumed {
			j.size = size
			d.finish(j, part, final)
			return
		}
		fail(fmt.Errorf("%s for a partial file of %d bytes: delete %s to start again", resp.Status, j.resumed, part))
		return
	case resp.StatusCode == http.StatusOK:
		j.resumed = 0 // the server sends it all
		flags |= os.O_TRUNC
		j.size = resp.ContentLength
	default:
		fail(fmt.Errorf("%s", resp.Status))
		return
	}

	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		fail(err)
		return
	}
	w := &countWriter{w: f}
	if d.progress != nil {
		w.bar = d.addBar(j)
		w.total = d.total
	}
	_, err = io.Copy(w, resp.Body)
	j.got = w.n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	resp.Body.Close() // the transfer is over: its info is known
	if info, ok := curlhttp.ResponseInfo(resp); ok && info.RemoteAddr.IsValid() {
		j.conn = info.RemoteAddr.String()
		if info.Reused {
			j.conn += " (reused)"
		}
	}
	if err != nil {
		if w.bar != nil {
			w.bar.Abort(true)
		}
		fail(err) // the .part file stays, to resume
		return
	}
	if w.bar != nil {
		w.bar.SetTotal(-1, true)
	}
	d.finish(j, part, final)
}

// finish renames a complete .part file to its final name.
func (d *downloader) finish(j *job, part, final string) {
	if err := os.Rename(part, final); err != nil {
		j.err, j.result = err, "failed"
		return
	}
	j.result = "done"
}

// addBar adds the bar of a transfer that starts, at what it resumes from.
func (d *downloader) addBar(j *job) *mpb.Bar {
	size := max(j.size, 0)
	if j.size > 0 {
		d.total.SetTotal(d.totalSize.Add(j.size), false)
	}
	name := j.name
	if len(name) > 24 {
		name = name[:21] + "..."
	}
	b := d.progress.AddBar(size, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
			decor.OnComplete(decor.Percentage(decor.WCSyncSpace), "done"),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)))
	if j.resumed > 0 {
		b.SetCurrent(j.resumed)
		d.total.IncrInt64(j.resumed)
	}
	return b
}

// countWriter writes to w and moves the bars.
type countWriter struct {
	w     io.Writer
	n     int64
	bar   *mpb.Bar
	total *mpb.Bar
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.bar != nil {
		c.bar.IncrBy(n)
		c.total.IncrBy(n)
	}
	return n, err
}

// contentRange parses "bytes START-END/SIZE" and "bytes */SIZE"; size is -1
// when it is "*".
func contentRange(v string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, total, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	size = -1
	if total != "*" {
		n, err := strconv.ParseInt(total, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		size = n
	}
	if rng == "*" {
		return 0, size, true
	}
	first, _, found := strings.Cut(rng, "-")
	n, err := strconv.ParseInt(first, 10, 64)
	if !found || err != nil {
		return 0, 0, false
	}
	return n, size, true
}

// summarize writes the table of results.
func summarize(w io.Writer, jobs []*job) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tRESULT\tSTATUS\tBYTES\tRESUMED\tTIME\tRATE\tCONNECTION")
	var bytes int64
	counts := map[string]int{}
	for _, j := range jobs {
		rate := "-"
		if j.got > 0 && j.elapsed > 0 {
			rate = size(int64(float64(j.got)/j.elapsed.Seconds())) + "/s"
		}
		status := "-"
		if j.status != 0 {
			status = strconv.Itoa(j.status)
		}
		result := j.result
		if j.err != nil && !errors.Is(j.err, context.Canceled) {
			result += ": " + j.err.Error()
		}
		resumed := "-"
		if j.resumed > 0 {
			resumed = size(j.resumed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.name, result, status, size(j.got), resumed,
			j.elapsed.Round(time.Millisecond), rate, orDash(j.conn))
		bytes += j.got
		counts[j.result]++
	}
	tw.Flush()
	fmt.Fprintf(w, "%d files: %d done, %d already there, %d failed, %d interrupted; %s received\n",
		len(jobs), counts["done"], counts["exists"], counts["failed"], counts["interrupted"], size(bytes))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// size formats a byte count.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
