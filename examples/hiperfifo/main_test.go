package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newServer serves /hello, and /slow, which answers only when the client
// goes away (or after 10 s).
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// lockedBuffer is a bytes.Buffer that run writes to while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits up to 10 s for out to hold n lines with prefix.
func waitFor(t *testing.T, out *lockedBuffer, prefix string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if countLines(out.String(), prefix) >= n {
			return
		}
	}
	t.Fatalf("no %d lines starting with %q after 10s; output:\n%s", n, prefix, out)
}

func countLines(s, prefix string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

func TestFetchesURLsFromFIFO(t *testing.T) {
	srv := newServer(t)
	fifo := filepath.Join(t.TempDir(), "hiper.fifo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-fifo", fifo}, out) }()

	waitFor(t, out, "Now, pipe some URL's into > "+fifo, 1)
	st, err := os.Stat(fifo)
	if err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("%s is not a named pipe: %v, %v", fifo, st, err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	refused := closedPortURL(t)
	if _, err := io.WriteString(w, srv.URL+"/hello\n"+refused+"\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "DONE: ", 2)
	got := out.String()
	for _, want := range []string{
		"DONE: " + srv.URL + "/hello => (0) \n",
		"DONE: " + refused + " => (7) ",
		"Progress: " + srv.URL + "/hello (13/13)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if n := countLines(got, "Adding easy 0x"); n != 2 {
		t.Errorf("%d Adding lines, want 2:\n%s", n, got)
	}

	// A transfer still running when the program is interrupted stops too.
	if _, err := io.WriteString(w, srv.URL+"/slow\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "Progress: "+srv.URL+"/slow", 1)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return 10s after the cancel")
	}
	if !strings.Contains(out.String(), "DONE: "+srv.URL+"/slow => context canceled\n") {
		t.Errorf("no DONE line for the cancelled transfer:\n%s", out)
	}
	if _, err := os.Lstat(fifo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pipe is still there after exit: %v", err)
	}
}

func TestRefusesToReplaceRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hiper.fifo")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-fifo", path}, io.Discard)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("run: %v, want an error wrapping fs.ErrExist", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file changed: %q, %v", b, err)
	}
}

func TestBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-nosuchflag"}, io.Discard); err == nil {
		t.Fatal("run accepted an unknown flag")
	}
}

// closedPortURL returns a URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/refused"
	srv.Close()
	return url
}
