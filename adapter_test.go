package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testutil"
	"github.com/curlpoll/curlpoll/netpoll"
)

func TestMain(m *testing.M) {
	testutil.CheckLibcurl()
	testutil.WarmUp()
	goleak.VerifyTestMain(m)
}

// patternWriter checks that what it is given is the server's pattern.
type patternWriter struct {
	n   int64
	err error
}

func (w *patternWriter) Write(p []byte) (int, error) {
	for i, b := range p {
		if want := byte('a' + (w.n+int64(i))%int64(len(pattern))%26); b != want && w.err == nil {
			w.err = fmt.Errorf("byte %d is %q, want %q", w.n+int64(i), b, want)
		}
	}
	w.n += int64(len(p))
	return len(p), nil
}

func TestDoBodySizes(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	for _, n := range []int64{0, 1, 100, 16 << 10, 16<<10 + 1, 1 << 20, 32 << 20} {
		e := newEasy(t, fmt.Sprintf("%s/bytes?n=%d", srv.URL, n))
		var w patternWriter
		must(t, e.SetWriter(&w))
		if err := m.Do(context.Background(), e); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if w.n != n || w.err != nil {
			t.Fatalf("n=%d: got %d bytes, %v", n, w.n, w.err)
		}
		if code, _ := e.ResponseCode(); code != 200 {
			t.Fatalf("n=%d: status %d", n, code)
		}
	}
}

// TestGigabyteReadSlowly reads a 1 GiB body through Transfer.Read with a
// reader slower than the server, and checks that the transfer is paused
// rather than buffered: the heap stays within a few MiB of where it began.
func TestGigabyteReadSlowly(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB transfer")
	}
	const size = 1 << 30
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, fmt.Sprintf("%s/bytes?n=%d", srv.URL, size))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	tr, err := m.Start(context.Background(), e)
	must(t, err)
	defer tr.Close()
	var (
		w    patternWriter
		buf  = make([]byte, 32<<10)
		peak uint64
		next = time.Now()
	)
	for i := 0; ; i++ {
		n, err := tr.Read(buf)
		w.Write(buf[:n])
		if err == io.EOF {
			break
		}
		must(t, err)
		if i%512 == 0 { // every 16 MiB: be slow for a moment, and measure
			time.Sleep(2 * time.Millisecond)
		}
		if time.Now().After(next) {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			next = time.Now().Add(100 * time.Millisecond)
		}
	}
	if w.n != size || w.err != nil {
		t.Fatalf("got %d bytes, %v", w.n, w.err)
	}
	s, _ := m.Stats()
	if s.RecvPauses == 0 {
		t.Error("the transfer was never paused: the reader never held it back")
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap in use: %d KiB at start, peak %d KiB; %d pauses", base>>10, peak>>10, s.RecvPauses)
	if growth > 8<<20 {
		t.Errorf("heap grew by %d KiB while reading 1 GiB; want a few MiB at most", growth>>10)
	}
}

func TestManySmallRequests(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	const workers, each = 32, 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := curlpoll.NewEasy()
			if err != nil {
				errs <- err
				return
			}
			defer e.Close()
			e.SetURL(srv.URL + "/hello")
			for j := 0; j < each; j++ {
				var b bytes.Buffer
				e.SetWriter(&b)
				if err := m.Do(context.Background(), e); err != nil {
					errs <- err
					return
				}
				if b.String() != "hello" {
					errs <- fmt.Errorf("body %q", b.String())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, _ := m.Stats()
	if s.Completed != workers*each {
		t.Errorf("info_read reported %d completions, want %d", s.Completed, workers*each)
	}
}

// TestThousandConcurrent holds 1000 transfers in flight at once and counts
// the process's OS threads meanwhile: waiting transfers sit in the runtime
// poller, not on threads.
func TestThousandConcurrent(t *testing.T) {
	checkFDs(t)
	const n = 1000
	var inFlight atomic.Int64
	release := make(chan struct{})
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "ok")
	}))
	m := newMulti(t)
	before := osThreads(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			e.SetURL(srv.URL)
			var b bytes.Buffer
			e.SetWriter(&b)
			if err := m.Do(context.Background(), e); err != nil || b.String() != "ok" {
				errs <- fmt.Errorf("%v %q", err, b.String())
			}
		}()
	}
	peak := 0
	deadline := time.Now().Add(30 * time.Second)
	for inFlight.Load() < n && time.Now().Before(deadline) {
		peak = max(peak, osThreads(t))
		time.Sleep(5 * time.Millisecond)
	}
	if got := inFlight.Load(); got < n {
		close(release)
		wg.Wait()
		t.Fatalf("only %d of %d requests reached the server", got, n)
	}
	for i := 0; i < 10; i++ {
		peak = max(peak, osThreads(t))
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	limit := 2*runtime.GOMAXPROCS(0) + 8
	t.Logf("OS threads: %d before, peak %d with %d transfers in flight (limit %d)", before, peak, n, limit)
	if peak > max(limit, before+4) {
		t.Errorf("peak of %d OS threads with %d transfers in flight; want at most %d", peak, n, limit)
	}
}

func testServerWith(t testing.TB, h http.Handler) *httptestServer {
	srv := newHTTPTestServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestUploadFromBlockingReader(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m := newMulti(t)
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("size-known=%v", known), func(t *testing.T) {
			const size = 8 << 20
			pr, pw := io.Pipe()
			go func() {
				// Dribble the body: the reader blocks between pieces.
				for sent := 0; sent < size; sent += 1 << 20 {
					pw.Write(pattern[:32<<10])
					writePattern(pw, 1<<20-32<<10)
					time.Sleep(5 * time.Millisecond)
				}
				pw.Close()
			}()
			e := newEasy(t, srv.URL+"/echo?count=1")
			must(t, e.SetPost(true))
			if known {
				must(t, e.SetPostFieldSize(size))
			} else {
				must(t, e.SetPostFieldSize(-1))
			}
			must(t, e.SetReader(pr))
			var b bytes.Buffer
			must(t, e.SetWriter(&b))
			if err := m.Do(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if b.String() != strconv.Itoa(size) {
				t.Fatalf("server counted %q bytes, want %d", b.String(), size)
			}
		})
	}
}

func TestUploadReaderError(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	boom := errors.New("boom")
	e := newEasy(t, srv.URL+"/echo?count=1")
	must(t, e.SetUpload(true))
	must(t, e.SetInFileSize(1<<20))
	must(t, e.SetReader(io.MultiReader(bytes.NewReader(pattern[:1000]), errReader{boom})))
	err := m.Do(context.Background(), e)
	if !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want the reader's error", err)
	}
	var ce *curlpoll.Error
	if !errors.As(err, &ce) || ce.Code != curlpoll.ErrAbortedByCallback {
		t.Fatalf("Do = %v, want a *curlpoll.Error with ErrAbortedByCallback", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestHTTP2Multiplexing(t *testing.T) {
	checkFDs(t)
	srv, ca := tlsServer(t)
	m := newMulti(t)
	must(t, m.SetMultiplex(true))
	const n = 200
	must(t, m.SetMaxConcurrentStreams(n))
	var wg sync.WaitGroup
	var connects atomic.Int64
	// Open the connection first, so every stream finds it.
	first := newEasy(t, srv.URL+"/hello")
	must(t, first.SetCAInfoBlob(ca))
	must(t, m.Do(context.Background(), first))
	if v, _ := first.HTTPVersion(); v != curlpoll.HTTPVersion2 {
		t.Fatalf("HTTP version %v, want HTTP/2", v)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			e.SetURL(srv.URL + "/bytes?n=20000")
			e.SetCAInfoBlob(ca)
			e.SetPipeWait(true)
			var w patternWriter
			e.SetWriter(&w)
			if err := m.Do(context.Background(), e); err != nil || w.n != 20000 || w.err != nil {
				t.Errorf("stream: %v, %d bytes, %v", err, w.n, w.err)
				return
			}
			if v, _ := e.HTTPVersion(); v != curlpoll.HTTPVersion2 {
				t.Errorf("HTTP version %v, want HTTP/2", v)
			}
			c, _ := e.NumConnects()
			connects.Add(int64(c))
		}()
	}
	wg.Wait()
	if c := connects.Load(); c != 0 {
		t.Errorf("%d new connections for %d streams; want all multiplexed on the first", c, n)
	}
}

// TestResolverHost uses a name that libcurl resolves with its threaded
// resolver, whose wake-up socketpair 7.88 hands to the socket callback in
// blocking mode.
func TestResolverHost(t *testing.T) {
	host := resolverHost(t)
	checkFDs(t)
	srv := testServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	m := newMulti(t)
	for i := 0; i < 20; i++ {
		e := newEasy(t, fmt.Sprintf("http://%s:%s/hello", host, port))
		var b bytes.Buffer
		must(t, e.SetWriter(&b))
		must(t, e.SetFreshConnect(true))
		if err := m.Do(context.Background(), e); err != nil || b.String() != "hello" {
			t.Fatalf("Do = %v, body %q", err, b.String())
		}
	}
}

// TestSocketAndTimerCallbacks checks that real transfers drive every path
// of the socket and timer callbacks and of curl_multi_socket_action.
func TestSocketAndTimerCallbacks(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/echo?count=1")
	must(t, e.SetPostFields(bytes.Repeat([]byte("x"), 1<<20)))
	must(t, m.Do(context.Background(), e))
	// A transfer that only libcurl's own timeout ends: the timer callback
	// must have asked for a timeout in the future (timer n > 0), and the
	// driver must have run it.
	e2 := newEasy(t, srv.URL+"/headers-then-wait")
	must(t, e2.SetTimeout(200*time.Millisecond))
	if err := m.Do(context.Background(), e2); !errors.Is(err, curlpoll.ErrOperationTimedOut) {
		t.Fatalf("Do = %v, want ErrOperationTimedOut", err)
	}
	s, err := m.Stats()
	must(t, err)
	t.Logf("%+v", s)
	for name, v := range map[string]int{
		"CURL_POLL_IN": s.PollIn, "CURL_POLL_OUT": s.PollOut, "CURL_POLL_REMOVE": s.PollRemove,
		"timer 0": s.TimerNow, "timer n": s.TimerSet, "timer -1": s.TimerStop,
		"socket_action(TIMEOUT)": s.ActionTimeout, "socket_action(fd)": s.ActionSocket,
	} {
		if v == 0 {
			t.Errorf("%s never happened", name)
		}
	}
	if s.Completed != 2 {
		t.Errorf("%d completions, want 2", s.Completed)
	}
	if s.Running != 0 {
		t.Errorf("running_handles is %d after every transfer ended", s.Running)
	}
}

// TestSocketCallbackActions runs the socket callback's handler on a real
// socket for the actions transfers rarely produce: INOUT and NONE.
func TestSocketCallbackActions(t *testing.T) {
	// The socket announced here is one libcurl does not know: its readiness
	// makes no progress, and on a slow machine the guard may hold it back.
	allowSpins(t)
	m := newMulti(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	must(t, err)
	defer c.Close()
	f, _ := c.(*net.TCPConn).File()
	defer f.Close()
	fd := int(f.Fd())

	const pollNone, pollIn, pollOut, pollInOut, pollRemove = 0, 1, 2, 3, 4
	want, in, err := m.SocketCallback(fd, pollInOut)
	must(t, err)
	if !in || want != netpoll.Read|netpoll.Write {
		t.Fatalf("after INOUT: in the set %v, want %v", in, want)
	}
	if want, in, _ = m.SocketCallback(fd, pollNone); want != 0 {
		t.Fatalf("after NONE: in the set %v, want %v", in, want)
	}
	// The spin guard may hold it out of the set for a while: only libcurl's
	// interest is sure.
	if want, in, _ = m.SocketCallback(fd, pollIn); want != netpoll.Read {
		t.Fatalf("after IN: in the set %v, want %v", in, want)
	}
	// Not a socket of the open-socket callback: REMOVE takes it out.
	if want, in, _ = m.SocketCallback(fd, pollRemove); in || want != 0 {
		t.Fatalf("after REMOVE: in the set %v, want %v", in, want)
	}
	// A REMOVE for a socket never announced is harmless.
	if _, _, err := m.SocketCallback(fd+1000, pollRemove); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	m := newMulti(t)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()

	e := newEasy(t, refused)
	err := m.Do(context.Background(), e)
	var ce *curlpoll.Error
	if !errors.Is(err, curlpoll.ErrCouldntConnect) || !errors.As(err, &ce) || ce.Detail == "" {
		t.Fatalf("refused: %v (%#v)", err, ce)
	}
	t.Logf("refused: %v", err)

	stall := newRawServer(t, func(c net.Conn) { readRequest(c) })
	e = newEasy(t, stall.URL())
	must(t, e.SetTimeout(100*time.Millisecond))
	err = m.Do(context.Background(), e)
	var ne net.Error
	if !errors.Is(err, curlpoll.ErrOperationTimedOut) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout: %v", err)
	}

	e = newEasy(t, "gopher-nope://x/")
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrUnsupportedProtocol) {
		t.Fatalf("bad scheme: %v", err)
	}
}

var errCallback = errors.New("callback says no")

func TestCallbackErrorsAndPanics(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	url := srv.URL + "/bytes?n=100000"

	e := newEasy(t, url)
	must(t, e.SetProgressFunc(func(curlpoll.Progress) error { panic("progress exploded") }))
	err := m.Do(context.Background(), e)
	var pe *curlpoll.PanicError
	if !errors.As(err, &pe) || pe.Value != "progress exploded" {
		t.Fatalf("panicking progress function: Do = %v", err)
	}

	e = newEasy(t, url)
	must(t, e.SetHeaderFunc(func([]byte) error { return errCallback }))
	if err := m.Do(context.Background(), e); !errors.Is(err, errCallback) {
		t.Fatalf("failing header function: Do = %v", err)
	}

	e = newEasy(t, url)
	must(t, e.SetHeaderFunc(func([]byte) error { panic(errCallback) }))
	if err := m.Do(context.Background(), e); !errors.As(err, &pe) || !errors.Is(err, errCallback) {
		t.Fatalf("header function panicking with an error: Do = %v", err)
	}

	e = newEasy(t, url)
	must(t, e.SetWriter(failingWriter{}))
	if err := m.Do(context.Background(), e); !errors.Is(err, errCallback) {
		t.Fatalf("failing writer: Do = %v", err)
	}

	// The multi handle is unharmed: libcurl's in-callback state was restored.
	e = newEasy(t, srv.URL+"/hello")
	var b bytes.Buffer
	must(t, e.SetWriter(&b))
	if err := m.Do(context.Background(), e); err != nil || b.String() != "hello" {
		t.Fatalf("after failing callbacks: %v %q", err, b.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errCallback }

func TestEasyBusy(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/headers-then-wait")
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	if err := e.SetURL(srv.URL); !errors.Is(err, curlpoll.ErrBusy) {
		t.Errorf("SetURL during a transfer = %v, want ErrBusy", err)
	}
	if err := e.Close(); !errors.Is(err, curlpoll.ErrBusy) {
		t.Errorf("Close during a transfer = %v, want ErrBusy", err)
	}
	if _, err := m.Start(context.Background(), e); !errors.Is(err, curlpoll.ErrBusy) {
		t.Errorf("second Start = %v, want ErrBusy", err)
	}
	if _, err := tr.Header(); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if err := tr.Err(); !errors.Is(err, curlpoll.ErrAborted) {
		t.Errorf("closed transfer's error = %v, want ErrAborted", err)
	}
	if err := e.SetURL(srv.URL + "/hello"); err != nil {
		t.Errorf("SetURL after Close = %v", err)
	}
}

func TestTransferHeaderAndTrailer(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		w.WriteHeader(201)
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetHTTPHeader([]string{"Expect: 100-continue"}))
	must(t, e.SetPostFields([]byte("x")))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	defer tr.Close()
	h, err := tr.Header()
	must(t, err)
	if !strings.HasPrefix(h[0], "HTTP/1.1 201") {
		t.Fatalf("status line %q (interim 100 must be skipped)", h[0])
	}
	if got := strings.Count(strings.Join(h, "\n"), "X-Multi:"); got != 2 {
		t.Errorf("%d X-Multi lines in %q", got, h)
	}
	body, err := io.ReadAll(tr)
	if err != nil || string(body) != "body" {
		t.Fatalf("body %q, %v", body, err)
	}
	if tl := tr.Trailer(); len(tl) != 1 || tl[0] != "X-Sum: 42" {
		t.Errorf("trailer %q", tl)
	}
}

func TestCloseWithActiveTransfers(t *testing.T) {
	checkFDs(t)
	srv := testServer(t)
	m, err := curlpoll.NewMulti()
	must(t, err)
	const n = 50
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			e, _ := curlpoll.NewEasy()
			defer e.Close()
			path := "/stall-body?n=100000"
			if i%2 == 0 {
				path = "/headers-then-wait"
			}
			e.SetURL(srv.URL + path)
			errs <- m.Do(context.Background(), e)
		}()
	}
	waitFor(t, func() bool { s, _ := m.Stats(); return s.Active == n })
	start := time.Now()
	must(t, m.Close())
	for i := 0; i < n; i++ {
		if err := <-errs; !errors.Is(err, curlpoll.ErrClosed) {
			t.Errorf("Do = %v, want ErrClosed", err)
		}
	}
	t.Logf("Close with %d transfers took %v", n, time.Since(start))
	must(t, m.Close()) // idempotent
	e := newEasy(t, srv.URL+"/hello")
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	if _, err := m.Stats(); !errors.Is(err, curlpoll.ErrClosed) {
		t.Errorf("Stats after Close = %v, want ErrClosed", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// TestExecDoesNotInheritSockets runs a child process while a connection is
// open: libcurl 7.88 opens sockets without SOCK_CLOEXEC, so curlpoll opens
// them itself.
func TestExecDoesNotInheritSockets(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/headers-then-wait")
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	defer tr.Close()
	_, err = tr.Header()
	must(t, err)
	out, err := exec.Command("sh", "-c", "ls -l /proc/$$/fd").CombinedOutput()
	must(t, err)
	if strings.Contains(string(out), "socket:") {
		t.Fatalf("child inherited sockets:\n%s", out)
	}
}

// TestAsyncTimerChan reruns a few transfers with the timer channel
// semantics of Go before 1.23, which a program can still choose.
func TestAsyncTimerChan(t *testing.T) {
	if os.Getenv("CURLPOLL_CHILD") != "" {
		t.Skip("already the child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^(TestDoBodySizes|TestErrors|TestManySmallRequests)$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG=asynctimerchan=1", "CURLPOLL_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("with asynctimerchan=1: %v\n%s", err, out)
	}
}

// TestSpinGuard watches a socket that is always readable and that libcurl
// does not know, as a descriptor libcurl asks about but never drains would
// be: without the guard the driver would hand it to libcurl in a busy loop.
func TestSpinGuard(t *testing.T) {
	allowSpins(t)
	m := newMulti(t)
	a, b := socketpairConns(t)
	defer a.Close()
	defer b.Close()
	b.Write([]byte("never read"))
	f, _ := a.(*net.UnixConn).File()
	defer f.Close()
	const pollIn, pollRemove = 1, 4
	_, _, err := m.SocketCallback(int(f.Fd()), pollIn)
	must(t, err)
	defer m.SocketCallback(int(f.Fd()), pollRemove)
	waitFor(t, func() bool { s, _ := m.Stats(); return s.Spins > 0 })
	before, _ := m.Stats()
	time.Sleep(300 * time.Millisecond)
	s, _ := m.Stats()
	fires := s.ActionSocket - before.ActionSocket
	t.Logf("once held back: %d readiness reports and %d back-offs in 300ms", fires, s.Spins-before.Spins)
	if fires > 60 {
		t.Errorf("%d readiness reports in 300ms after the spin guard engaged; want a few", fires)
	}
}

func socketpairConns(t *testing.T) (net.Conn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	must(t, err)
	fa, fb := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer fa.Close()
	defer fb.Close()
	a, err := net.FileConn(fa)
	must(t, err)
	b, err := net.FileConn(fb)
	must(t, err)
	return a, b
}

// TestIdleAfterLastTimeout fails a transfer on its connect timeout, the
// last timer libcurl had. After a timeout action libcurl announces its next
// timeout even if unchanged, but says nothing when none is left: a driver
// that kept the one it had fired it again and again (275,000 timeout
// actions in 300 ms before the fix).
func TestIdleAfterLastTimeout(t *testing.T) {
	addr := blackhole(t)
	m := newMulti(t)
	e := newEasy(t, "http://"+addr+"/")
	must(t, e.SetConnectTimeout(200*time.Millisecond))
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrOperationTimedOut) {
		t.Fatalf("Do = %v, want a connect timeout", err)
	}
	before, _ := m.Stats()
	time.Sleep(300 * time.Millisecond)
	s, _ := m.Stats()
	if n := s.ActionTimeout - before.ActionTimeout; n > 5 {
		t.Errorf("%d timeout actions in 300 ms on an idle Multi", n)
	}
	if n := s.Turns - before.Turns; n > 20 {
		t.Errorf("%d driver turns in 300 ms on an idle Multi", n)
	}
}

// TestExecDoesNotInheritWakeupPair makes Multis in a process with many
// descriptors and gaps between them, then runs a child: none of the
// Multis' wake-up sockets (made without close-on-exec before libcurl
// 8.8.0, and found by the numbers they take, not by a scan of every
// descriptor) is inherited.
func TestExecDoesNotInheritWakeupPair(t *testing.T) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i := range 600 {
		f, err := os.Open(os.DevNull)
		must(t, err)
		files = append(files, f)
		if i%7 == 3 {
			f.Close() // a gap, taken by what comes next
		}
	}
	for range 5 {
		m, err := curlpoll.NewMulti()
		must(t, err)
		defer m.Close()
	}
	out, err := exec.Command("sh", "-c", "ls -l /proc/$$/fd").CombinedOutput()
	must(t, err)
	if strings.Contains(string(out), "socket:") {
		t.Fatalf("child inherited sockets:\n%s", out)
	}
}
