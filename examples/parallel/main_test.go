package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checkFiles checks that dir holds the demo files named, complete.
func checkFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, f := range demoFiles {
		if len(names) > 0 && !contains(names, f.name) {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if !bytes.Equal(got, demoContent(f.name, f.size)) {
			t.Errorf("%s: %d bytes, not the served content", f.name, len(got))
		}
		if _, err := os.Stat(filepath.Join(dir, f.name+".part")); err == nil {
			t.Errorf("%s.part left behind", f.name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-demo", "-demo-rate", "0", "-o", dir, "-n", "3"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	checkFiles(t, dir)
	if !strings.Contains(out.String(), "7 files: 7 done") || !strings.Contains(out.String(), "FILE ") {
		t.Errorf("summary:\n%s", out.String())
	}
	if strings.Contains(errOut.String(), "\x1b[") {
		t.Errorf("bars drawn on a non-terminal:\n%q", errOut.String())
	}

	// Again: every file is there already.
	out.Reset()
	if code := run(context.Background(), []string{"-demo", "-o", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "7 already there") {
		t.Errorf("second run's summary:\n%s", out.String())
	}
}

func TestURLList(t *testing.T) {
	srv := startDemoServer(0)
	defer srv.Close()
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "urls.txt")
	urls := srv.urls()
	content := "# two from a file\n" + urls[0] + "\n\n" + urls[1] + "\n"
	if err := os.WriteFile(list, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-o", dir, "-i", list, urls[2]}, &out, &out); code != exitOK {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	checkFiles(t, dir, demoFiles[0].name, demoFiles[1].name, demoFiles[2].name)
	if !strings.Contains(out.String(), "3 files: 3 done") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestInterruptAndResume cancels a run while files are half downloaded,
// then runs again: the .part files are resumed with Range requests.
func TestInterruptAndResume(t *testing.T) {
	srv := startDemoServer(1 << 20)
	defer srv.Close()
	dir := t.TempDir()
	urls := srv.urls()[:2] // alpha.bin 3 MiB, bravo.bin 5 MiB: several seconds at 1 MiB/s
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"-o", dir}, urls...), &out, &out) }()
	// Cancel once both .part files have something.
	for i := 0; i < 500; i++ {
		a, errA := os.Stat(filepath.Join(dir, "alpha.bin.part"))
		b, errB := os.Stat(filepath.Join(dir, "bravo.bin.part"))
		if errA == nil && errB == nil && a.Size() > 0 && b.Size() > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, out.String())
	}
	if !strings.Contains(out.String(), "2 interrupted") {
		t.Errorf("summary:\n%s", out.String())
	}
	for _, name := range []string{"alpha.bin", "bravo.bin"} {
		fi, err := os.Stat(filepath.Join(dir, name+".part"))
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%s.part: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Fatalf("%s complete after an interrupt", name)
		}
	}

	// The server is fast now; the second run resumes.
	fast := startDemoServer(0)
	defer fast.Close()
	out.Reset()
	if code := run(context.Background(), append([]string{"-o", dir}, fast.urls()[:2]...), &out, &out); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, out.String())
	}
	checkFiles(t, dir, "alpha.bin", "bravo.bin")
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "alpha.bin") || strings.HasPrefix(line, "bravo.bin") {
			if f := strings.Fields(line); len(f) < 4 || f[2] != "206" {
				t.Errorf("not resumed with a 206: %q", line)
			}
		}
	}
}

// TestRangeEdgeCases: a server that ignores Range replaces the partial
// file; a partial file that is in fact complete gets a 416 and is kept.
func TestRangeEdgeCases(t *testing.T) {
	body := demoContent("plain.bin", 100000)
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if r.URL.Path == "/ignore/plain.bin" {
			w.Write(body) // no Range support
			return
		}
		http.ServeContent(w, r, "plain.bin", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		path    string
		part    []byte
		result  string
		resumed bool
	}{
		{"/ignore/plain.bin", []byte("garbage"), "200", false},
		{"/range/plain.bin", body, "416", true},
		{"/range/plain.bin", body[:1234], "206", true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "plain.bin.part"), tc.part, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if code := run(context.Background(), []string{"-o", dir, srv.URL + tc.path}, &out, &out); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", tc.path, code, out.String())
		}
		got, err := os.ReadFile(filepath.Join(dir, "plain.bin"))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s with %d bytes there: %d bytes, %v", tc.path, len(tc.part), len(got), err)
		}
		if !strings.Contains(out.String(), " "+tc.result+" ") {
			t.Errorf("%s: summary:\n%s", tc.path, out.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"bytes=7-", "bytes=100000-", "bytes=1234-"}
	if fmt.Sprint(ranges) != fmt.Sprint(want) {
		t.Errorf("Range headers %q, want %q", ranges, want)
	}
}

// TestBarsInTmux runs the program in a terminal (tmux) and reads the
// screen: a bar per transfer in flight, a total bar, then the summary.
func TestBarsInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and runs it in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "parallel")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock := fmt.Sprintf("curlpoll-parallel-%d", os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dir := filepath.Join(tmp, "out")
	tmux("new-session", "-d", "-x", "120", "-y", "30",
		fmt.Sprintf("%s -demo -n 3 -demo-rate 3000000 -o %s; echo EXIT=$?; sleep 60", bin, dir))
	defer exec.Command("tmux", "-L", sock, "kill-server").Run()

	var live, final string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		screen := tmux("capture-pane", "-p", "-t", "0")
		if live == "" && strings.Count(screen, "%") >= 3 && strings.Contains(screen, "total") &&
			strings.Contains(screen, "MiB/s") {
			live = screen
		}
		if strings.Contains(screen, "EXIT=") {
			final = screen
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if live == "" {
		t.Fatalf("never saw live bars; last screen:\n%s", final)
	}
	// The live screen: one bar for each of the 3 transfers, and the total.
	bars := 0
	for _, line := range strings.Split(live, "\n") {
		if strings.Contains(line, "[") && strings.Contains(line, "%") {
			bars++
		}
	}
	if bars < 2 || bars > 4 || !strings.Contains(live, "/7 files") {
		t.Errorf("live screen has %d bars:\n%s", bars, live)
	}
	if !strings.Contains(final, "EXIT=0") || !strings.Contains(final, "7 files: 7 done") {
		t.Errorf("final screen:\n%s", final)
	}
	checkFiles(t, dir)
}
