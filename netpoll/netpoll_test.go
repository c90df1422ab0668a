package netpoll_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/curlpoll/curlpoll/netpoll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSet(t *testing.T) *netpoll.Set {
	t.Helper()
	s, err := netpoll.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// socketpair returns a connected AF_UNIX stream pair, closed at the end.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// park runs Park on a goroutine and returns its results.
func park(s *netpoll.Set) <-chan []netpoll.Readiness {
	ch := make(chan []netpoll.Readiness, 1)
	go func() {
		out := make([]netpoll.Readiness, 8)
		n, err := s.Park(out)
		if err != nil {
			out = append(out[:0], netpoll.Readiness{FD: -1})
		}
		ch <- out[:n]
	}()
	return ch
}

func within(t *testing.T, ch <-chan []netpoll.Readiness) []netpoll.Readiness {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Park did not return")
		return nil
	}
}

// TestReadyBeforePark is the lost wake-up case: the descriptor became
// ready before the set was parked on, so the runtime saw the edge while
// nobody waited. Park's first try must find it, and level-triggered, again
// and again until it is drained.
func TestReadyBeforePark(t *testing.T) {
	s := newSet(t)
	a, b := socketpair(t)
	if err := s.Watch(a, netpoll.Read, 7, false); err != nil {
		t.Fatal(err)
	}
	unix.Write(b, []byte("x"))
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 3; i++ {
		r := within(t, park(s))
		if len(r) != 1 || r[0].FD != a || r[0].Tag != 7 || r[0].Events&netpoll.Read == 0 {
			t.Fatalf("Park = %+v, want %d readable with tag 7", r, a)
		}
	}
}

// TestParkWakes parks with nothing ready: readiness that comes later, and
// Wake, each end the park.
func TestParkWakes(t *testing.T) {
	s := newSet(t)
	a, b := socketpair(t)
	if err := s.Watch(a, netpoll.Read, 1, false); err != nil {
		t.Fatal(err)
	}
	ch := park(s)
	select {
	case r := <-ch:
		t.Fatalf("Park returned %+v with nothing ready", r)
	case <-time.After(50 * time.Millisecond):
	}
	unix.Write(b, []byte("x"))
	if r := within(t, ch); len(r) != 1 || r[0].FD != a {
		t.Fatalf("Park = %+v", r)
	}
	var buf [1]byte
	unix.Read(a, buf[:])
	ch = park(s)
	time.Sleep(20 * time.Millisecond)
	s.Wake()
	if r := within(t, ch); len(r) != 0 {
		t.Fatalf("Park after Wake = %+v, want nothing ready", r)
	}
	s.Wake() // before the park: the next one returns at once
	if r := within(t, park(s)); len(r) != 0 {
		t.Fatalf("Park after an earlier Wake = %+v", r)
	}
}

// TestParkDeadline checks that the deadline ends a park, and stays past
// until moved.
func TestParkDeadline(t *testing.T) {
	s := newSet(t)
	if err := s.SetDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := make([]netpoll.Readiness, 4)
	if _, err := s.Park(out); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Park = %v, want the deadline", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("the deadline passed after %v", d)
	}
	if _, err := s.Park(out); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second Park = %v, want the deadline again", err)
	}
	s.SetDeadline(time.Time{})
	s.Wake()
	if _, err := s.Park(out); err != nil {
		t.Fatalf("Park after clearing the deadline = %v", err)
	}
}

// TestWatchReusedNumber registers a descriptor, closes it (the kernel drops
// it from the set) and watches a new socket with the same number as if it
// were the old one: MOD fails with ENOENT, and Watch adds it.
func TestWatchReusedNumber(t *testing.T) {
	s := newSet(t)
	a, _ := socketpair(t)
	if err := s.Watch(a, netpoll.Read, 1, false); err != nil {
		t.Fatal(err)
	}
	unix.Close(a)
	c, d := socketpair(t)
	reused, peer := c, d
	if d == a {
		reused, peer = d, c
	}
	if reused != a {
		t.Skipf("the new pair got %d and %d, not %d", c, d, a)
	}
	if err := s.Watch(reused, netpoll.Read, 2, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(reused, netpoll.Read|netpoll.Write, 2, false); err != nil {
		t.Fatalf("ADD of a registered descriptor: %v, want a MOD", err)
	}
	unix.Write(peer, []byte("x"))
	if r := within(t, park(s)); len(r) != 1 || r[0].FD != reused || r[0].Tag != 2 {
		t.Fatalf("Park = %+v", r)
	}
}

// TestHangupWithoutInterest: epoll reports a hang-up of a descriptor in the
// set with an empty interest, which is why a socket nobody wants must be
// forgotten, not kept with no interest.
func TestHangupWithoutInterest(t *testing.T) {
	s := newSet(t)
	a, b := socketpair(t)
	if err := s.Watch(a, 0, 3, false); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(b, unix.SHUT_RDWR)
	r := within(t, park(s))
	if len(r) != 1 || r[0].Events&netpoll.Hangup == 0 {
		t.Fatalf("Park = %+v, want a hang-up", r)
	}
	if err := s.Forget(a); err != nil {
		t.Fatal(err)
	}
	out := make([]netpoll.Readiness, 4)
	if n, _ := s.Poll(out); n != 0 {
		t.Fatalf("Poll after Forget = %+v", out[:n])
	}
}

// TestRebuildDropsGhost keeps an entry that no number reaches (the socket
// was closed while a duplicate kept its file open): only Rebuild sheds it.
func TestRebuildDropsGhost(t *testing.T) {
	s := newSet(t)
	a, b := socketpair(t)
	if err := s.Watch(a, netpoll.Read, 4, false); err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	unix.Close(a)
	unix.Write(b, []byte("x"))
	out := make([]netpoll.Readiness, 4)
	if n, _ := s.Poll(out); n != 1 || out[0].Tag != 4 {
		t.Fatalf("the ghost: Poll = %+v", out[:n])
	}
	if err := s.Forget(a); err == nil {
		t.Fatal("Forget reached the ghost by a closed number")
	}
	if err := s.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Poll(out); n != 0 {
		t.Fatalf("after Rebuild: Poll = %+v", out[:n])
	}
	s.Wake()
	if r := within(t, park(s)); len(r) != 0 {
		t.Fatalf("Park after Rebuild = %+v", r)
	}
}
