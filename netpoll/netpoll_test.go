package netpoll_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/netpoll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// socketpair returns a connected AF_UNIX stream pair. Both ends are blocking,
// like the resolver wake-up pair of libcurl 7.88.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func dup(t *testing.T, fd int) *netpoll.FD {
	t.Helper()
	p, err := netpoll.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitAsync runs Wait on a goroutine and returns its result channel.
func waitAsync(ctx context.Context, p *netpoll.FD, ev netpoll.Event) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Wait(ctx, ev) }()
	return ch
}

func expectBlocked(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("wait returned early: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func expectResult(t *testing.T, ch <-chan error, want error) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, want) && err != want {
			t.Fatalf("wait = %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return")
	}
}

// TestReadyBeforeWait is the lost-wake-up case: the edge for the data came
// while nobody waited, and RawConn.Read resets pending readiness, so only
// the level probe can see it.
func TestReadyBeforeWait(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the poller see and record the edge
	for i := 0; i < 3; i++ {          // level semantics: ready until drained
		expectResult(t, waitAsync(context.Background(), p, netpoll.Read), nil)
	}
}

func TestWaitReadBlocksUntilData(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	ch := waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch)
	unix.Write(b, []byte("x"))
	expectResult(t, ch, nil)

	var buf [8]byte
	if n, err := unix.Read(a, buf[:]); n != 1 || err != nil {
		t.Fatalf("read = %d, %v", n, err)
	}
	ch = waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch) // drained: no longer ready
	unix.Write(b, []byte("y"))
	expectResult(t, ch, nil)
}

func TestWaitWrite(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	expectResult(t, waitAsync(context.Background(), p, netpoll.Write), nil)

	// Fill the send buffer, then wait for the peer to make room.
	unix.SetNonblock(a, true)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := unix.Write(a, chunk); err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	ch := waitAsync(context.Background(), p, netpoll.Write)
	expectBlocked(t, ch)
	unix.SetNonblock(b, true)
	for drained := 0; drained < 1<<20; {
		n, err := unix.Read(b, chunk)
		if err == unix.EAGAIN {
			break // drained; the wait must have fired or fire soon
		}
		if err != nil {
			t.Fatal(err)
		}
		drained += n
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
	}
	expectResult(t, ch, nil)
}

func TestHangUpIsReadable(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	ch := waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch)
	unix.Shutdown(b, unix.SHUT_WR)
	expectResult(t, ch, nil)
}

func TestCloseWakesWaiters(t *testing.T) {
	a, _ := socketpair(t)
	p := dup(t, a)
	ch := waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	expectResult(t, ch, netpoll.ErrClosed)
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := p.Wait(context.Background(), netpoll.Read); err != netpoll.ErrClosed {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
}

func TestContextCancelsWait(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	ch := waitAsync(ctx, p, netpoll.Read)
	expectBlocked(t, ch)
	cancel()
	expectResult(t, ch, context.Canceled)

	// The deadline used to interrupt must not stick to later waits.
	ch = waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch)
	unix.Write(b, []byte("x"))
	expectResult(t, ch, nil)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var buf [1]byte
	unix.Read(a, buf[:])
	expectResult(t, waitAsync(ctx, p, netpoll.Read), context.DeadlineExceeded)
}

func TestDupLeavesOriginalOpen(t *testing.T) {
	a, b := socketpair(t)
	p := dup(t, a)
	if p.Fd() == a {
		t.Fatal("Dup returned the original descriptor")
	}
	flags, err := unix.FcntlInt(uintptr(p.Fd()), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("duplicate is not close-on-exec: flags=%#x err=%v", flags, err)
	}
	p.Close()
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	var buf [1]byte
	if n, err := unix.Read(a, buf[:]); n != 1 || err != nil {
		t.Fatalf("original after Close: read = %d, %v", n, err)
	}
}

func TestOwnClosesDescriptor(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	p, err := netpoll.Own(fds[0])
	if err != nil {
		unix.Close(fds[0])
		t.Fatal(err)
	}
	ch := waitAsync(context.Background(), p, netpoll.Read)
	expectBlocked(t, ch)
	unix.Write(fds[1], []byte("x"))
	expectResult(t, ch, nil)
	p.Close()
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("owned descriptor still open after Close (err=%v)", err)
	}
}

func TestRegularFileIsRefused(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if p, err := netpoll.Dup(int(f.Fd())); err == nil {
		p.Close()
		t.Fatal("Dup of a regular file succeeded; waits on it could never be woken")
	}
}

func TestBadWaitEvent(t *testing.T) {
	a, _ := socketpair(t)
	p := dup(t, a)
	if err := p.Wait(context.Background(), netpoll.Read|netpoll.Write); err == nil {
		t.Fatal("Wait(Read|Write) succeeded")
	}
}

// BenchmarkWakeUp is one readiness wake-up through the runtime poller: a
// goroutine waits for Read on a socket, the benchmark writes a byte, and
// the waiter wakes, reads it and hands control back.
func BenchmarkWakeUp(b *testing.B) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	p, err := netpoll.Dup(fds[0])
	if err != nil {
		b.Fatal(err)
	}
	woke := make(chan struct{})
	go func() {
		defer close(woke)
		var buf [1]byte
		for {
			if err := p.Wait(context.Background(), netpoll.Read); err != nil {
				return
			}
			unix.Read(fds[0], buf[:])
			woke <- struct{}{}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		unix.Write(fds[1], []byte{1})
		<-woke
	}
	b.StopTimer()
	p.Close()
	for range woke {
	}
}
