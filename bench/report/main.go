// Command report is bench/run.sh's helper:
//
//	report freeport                  print a free TCP port on 127.0.0.1
//	report wrap -client C -label L -workers N -- cmd args...
//	                                 run a command-line client (curl), count
//	                                 the "CODE SIZE" lines it writes with -w,
//	                                 and print a result line with the child's
//	                                 CPU time and peak RSS
//	report summarize -in results.jsonl -meta meta.md
//	                                 write BENCHMARKS.md's tables to stdout
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/curlpoll/curlpoll/bench/internal/load"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: report freeport | wrap ... | summarize ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "wrap":
		err = wrap(os.Args[2:])
	case "summarize":
		err = summarize(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func wrap(args []string) error {
	fs := flag.NewFlagSet("wrap", flag.ContinueOnError)
	client := fs.String("client", "curl", "client name")
	label := fs.String("label", "", "workload label")
	workers := fs.Int("workers", 1, "N")
	note := fs.String("note", "", "note for the result line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return fmt.Errorf("wrap: no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	r := load.Result{Client: *client, Label: *label, Workers: *workers, Note: *note}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		code, size, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		n, _ := strconv.ParseInt(size, 10, 64)
		r.Bytes += n
		if code == "200" {
			r.Requests++
		} else {
			r.Errors++
		}
	}
	werr := cmd.Wait()
	r.Seconds = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.UserCPU = float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
		r.SysCPU = float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
		r.MaxRSSKB = ru.Maxrss
	}
	if werr != nil && r.Errors == 0 {
		r.Errors = 1
	}
	load.Print(r)
	return nil
}

// A record is one line of results.jsonl: a load result or a scale result.
type record struct {
	load.Result
	load.Scale
}

// Workloads, in the order of the tables.
var workloads = []struct{ label, title string }{
	{"h1-100B-N1", "HTTP/1.1, 100 B, N = 1"},
	{"h1-100B-N16", "HTTP/1.1, 100 B, N = 16"},
	{"h1-100B-N128", "HTTP/1.1, 100 B, N = 128"},
	{"h1-1MiB-N8", "HTTP/1.1, 1 MiB, N = 8"},
	{"h1-256MiB-N1", "HTTP/1.1, 256 MiB, N = 1"},
	{"h2-100B-N128", "HTTP/2 over TLS, 100 B, N = 128"},
}

var clients = []string{"curlpoll-multi", "curlpoll-transport", "nethttp", "c-multisocket", "c-multisocket-del", "curl"}

func bulk(label string) bool { return strings.Contains(label, "MiB") }

// stats of one client on one workload, over its runs.
type stats struct {
	rate, rateMin, rateMax float64 // requests/s, or MB/s for bulk rows
	cpu                    float64 // CPU seconds per 1000 requests, or per GB
	rssMB                  float64
	runs, errors           int
	note                   string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	in := fs.String("in", "results.jsonl", "result lines")
	meta := fs.String("meta", "", "markdown to put first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %v", line, err)
		}
		recs = append(recs, r)
	}
	if *meta != "" {
		b, err := os.ReadFile(*meta)
		if err != nil {
			return err
		}
		w.Write(b)
	}
	table := map[string]map[string]*stats{}
	for _, wl := range workloads {
		table[wl.label] = map[string]*stats{}
		for _, c := range clients {
			var rates, cpus, rss []float64
			var st stats
			for _, r := range recs {
				if r.Kind != "" || r.Label != wl.label || r.Client != c {
					continue
				}
				st.runs++
				st.errors += int(r.Errors)
				if r.Note != "" {
					st.note = r.Note
				}
				if r.Seconds <= 0 || r.Requests == 0 {
					continue
				}
				cpu := r.UserCPU + r.SysCPU
				if bulk(wl.label) {
					rates = append(rates, float64(r.Bytes)/1e6/r.Seconds)
					cpus = append(cpus, cpu/(float64(r.Bytes)/1e9))
				} else {
					rates = append(rates, float64(r.Requests)/r.Seconds)
					cpus = append(cpus, cpu/float64(r.Requests)*1000)
				}
				rss = append(rss, float64(r.MaxRSSKB)/1024)
			}
			if st.runs == 0 {
				continue
			}
			if len(rates) > 0 {
				st.rate = median(rates)
				s := append([]float64(nil), rates...)
				sort.Float64s(s)
				st.rateMin, st.rateMax = s[0], s[len(s)-1]
				st.cpu = median(cpus)
				st.rssMB = median(rss)
			}
			table[wl.label][c] = &st
		}
	}
	ratio := func(a, b *stats) string {
		if a == nil || b == nil || b.rate == 0 || a.rate == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", a.rate/b.rate)
	}
	fmt.Fprintf(w, "\n## Throughput\n\nMedians over the runs, min–max in brackets. Rates are requests/s, or MB/s (10^6 bytes) for the bulk rows; CPU is the client's user+system CPU seconds per 1000 requests, or per GB, from getrusage; RSS is the client's peak RSS. Ratios divide medians of the same run of this script.\n")
	for _, wl := range workloads {
		unit, cpuUnit := "req/s", "CPU s/1k req"
		if bulk(wl.label) {
			unit, cpuUnit = "MB/s", "CPU s/GB"
		}
		fmt.Fprintf(w, "\n### %s (`%s`)\n\n| client | %s | min–max | %s | peak RSS MB | ÷ nethttp | ÷ c-multisocket | runs | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", wl.title, wl.label, unit, cpuUnit)
		row := table[wl.label]
		var notes []string
		for _, c := range clients {
			st := row[c]
			if st == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f–%.0f | %.3f | %.1f | %s | %s | %d | %d |\n",
				c, st.rate, st.rateMin, st.rateMax, st.cpu, st.rssMB, ratio(st, row["nethttp"]), ratio(st, row["c-multisocket"]), st.runs, st.errors)
			if st.note != "" {
				notes = append(notes, fmt.Sprintf("%s: %s.", c, st.note))
			}
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "\n%s\n", strings.Join(notes, " "))
		}
	}

	// Targets.
	fmt.Fprintf(w, "\n## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	check := func(name string, ok bool, measured string) {
		mark := "no"
		if ok {
			mark = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", name, measured, mark)
	}
	for _, l := range []string{"h1-100B-N16", "h1-100B-N128", "h2-100B-N128"} {
		tr, nh := table[l]["curlpoll-transport"], table[l]["nethttp"]
		if tr != nil && nh != nil && nh.rate > 0 {
			check(fmt.Sprintf("`%s` transport ≥ 1.0× nethttp req/s", l), tr.rate >= nh.rate, fmt.Sprintf("%.2f×", tr.rate/nh.rate))
			check(fmt.Sprintf("`%s` transport CPU/req ≤ nethttp", l), tr.cpu <= nh.cpu, fmt.Sprintf("%.3f vs %.3f s/1k", tr.cpu, nh.cpu))
		}
	}
	for _, l := range []string{"h1-100B-N16", "h1-100B-N128", "h2-100B-N128", "h1-1MiB-N8", "h1-256MiB-N1"} {
		mu, cm := table[l]["curlpoll-multi"], table[l]["c-multisocket"]
		want := 0.9
		if bulk(l) {
			want = 0.95
		}
		if mu != nil && cm != nil && cm.rate > 0 {
			check(fmt.Sprintf("`%s` multi ≥ %.2f× c-multisocket", l, want), mu.rate/cm.rate >= want, fmt.Sprintf("%.2f×", mu.rate/cm.rate))
		}
	}
	var scale []record
	for _, r := range recs {
		if r.Kind == "scale" {
			scale = append(scale, r)
		}
	}
	if len(scale) > 0 {
		fmt.Fprintf(w, "\n## Scale: concurrent transfers held open by a slow server\n\n| client | transfers | reached in flight | failed | fds at peak | peak OS threads | limit 2×GOMAXPROCS+8 | RSS per transfer KB | time to start all s | time to cancel all s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var nethttpRSS float64
		for _, r := range scale {
			if r.Client == "nethttp" {
				nethttpRSS = r.RSSPerKB
			}
		}
		for _, r := range scale {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %.1f | %.2f | %.3f |\n", r.Client, r.Transfers, r.InFlight, r.Failed, r.FDs, r.PeakThreads, 2*r.GOMAXPROCS+8, r.RSSPerKB, r.RampSeconds, r.CancelSecs)
		}
		fmt.Fprintln(w)
		for _, r := range scale {
			if !strings.HasPrefix(r.Client, "curlpoll") {
				continue
			}
			check := func(name string, ok bool, measured string) {
				mark := "no"
				if ok {
					mark = "yes"
				}
				fmt.Fprintf(w, "- %s: %s: %s (%s)\n", r.Client, name, mark, measured)
			}
			check("all transfers in flight at once", r.InFlight == r.Transfers, fmt.Sprintf("%d of %d", r.InFlight, r.Transfers))
			check("OS threads ≤ 2×GOMAXPROCS+8", r.PeakThreads <= 2*r.GOMAXPROCS+8, fmt.Sprintf("%d ≤ %d", r.PeakThreads, 2*r.GOMAXPROCS+8))
			check("less memory per transfer than net/http", nethttpRSS > 0 && r.RSSPerKB < nethttpRSS, fmt.Sprintf("%.1f KB vs %.1f KB", r.RSSPerKB, nethttpRSS))
			check("cancelling all in under 1 s", r.CancelSecs < 1, fmt.Sprintf("%.3f s", r.CancelSecs))
		}
	}
	return nil
}
