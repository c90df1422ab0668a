package netpoll

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Set is an epoll instance (level-triggered) with an eventfd in it for
// Wake. Its methods are for one goroutine at a time, except Wake, which any
// goroutine may call.
type Set struct {
	file     *os.File // the epoll descriptor, on the runtime's poller
	rc       syscall.RawConn
	ep       int
	wake     int       // eventfd, in the set with wakeTag
	deadline time.Time // what SetDeadline last set, kept across Rebuild
	evs      []unix.EpollEvent
	closed   bool

	// Park's state for its RawConn.Read callback, which is made once
	// (tryFn): a closure made per Park escapes, with what it captures,
	// to the heap (five allocations per Park).
	tryFn   func(uintptr) bool
	parkOut []Readiness
	parkN   int
	parkErr error
}

// wakeFD is the number the set's own eventfd is reported by: never a
// descriptor of the caller's, so an eventfd event is told apart without a
// lookup.
const wakeFD = -1

// NewSet creates an empty set and registers it with the runtime's poller.
func NewSet() (*Set, error) {
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	s := &Set{wake: wfd}
	s.tryFn = s.try
	if err := s.open(); err != nil {
		unix.Close(wfd)
		return nil, err
	}
	return s, nil
}

// open creates the epoll instance, puts the eventfd in it, and hands its
// descriptor to the runtime's poller.
func (s *Set) open() error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeFD}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, s.wake, &ev); err != nil {
		unix.Close(ep)
		return os.NewSyscallError("epoll_ctl", err)
	}
	// os.NewFile registers a descriptor with the poller only when it is
	// non-blocking already (kindNonBlock).
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	f := os.NewFile(uintptr(ep), "netpoll-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	// SetReadDeadline fails with ErrNoDeadline when the runtime refused to
	// register the descriptor; Park could then never wake. Say so now.
	if err := f.SetReadDeadline(s.deadline); err != nil {
		f.Close()
		return fmt.Errorf("netpoll: epoll descriptor is not pollable: %w", err)
	}
	s.file, s.rc, s.ep = f, rc, ep
	return nil
}

// Watch sets fd's interest and tag, adding fd to the set if needed:
// EPOLL_CTL_MOD first when known, failing with ENOENT for a descriptor the
// set does not hold (a number reused since it was added), then ADD;
// EPOLL_CTL_ADD first otherwise, failing with EEXIST for one it holds, then
// MOD. A Hangup bit in ev is ignored: hang-ups are always reported.
func (s *Set) Watch(fd int, ev Event, tag uint32, known bool) error {
	if s.closed {
		return ErrClosed
	}
	e := epollEvent(fd, ev, tag)
	first, second := unix.EPOLL_CTL_ADD, unix.EPOLL_CTL_MOD
	retry := unix.EEXIST
	if known {
		first, second, retry = unix.EPOLL_CTL_MOD, unix.EPOLL_CTL_ADD, unix.ENOENT
	}
	err := unix.EpollCtl(s.ep, first, fd, &e)
	if err == retry {
		err = unix.EpollCtl(s.ep, second, fd, &e)
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Modify changes the interest and tag of fd, which the set must hold
// (EPOLL_CTL_MOD only). It fails, adding nothing, when fd is closed (EBADF)
// or names a file the set does not hold (ENOENT: the one registered was
// closed and the number reused).
func (s *Set) Modify(fd int, ev Event, tag uint32) error {
	if s.closed {
		return ErrClosed
	}
	e := epollEvent(fd, ev, tag)
	if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_MOD, fd, &e); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// epollEvent is fd's registration for interest ev, with tag.
func epollEvent(fd int, ev Event, tag uint32) unix.EpollEvent {
	e := unix.EpollEvent{Fd: int32(fd), Pad: int32(tag)}
	if ev&Read != 0 {
		e.Events |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Write != 0 {
		e.Events |= unix.EPOLLOUT
	}
	return e
}

// Forget removes fd from the set (EPOLL_CTL_DEL). A descriptor that the
// set does not hold, or that is closed, gives an error the caller may
// ignore.
func (s *Set) Forget(fd int) error {
	if s.closed {
		return ErrClosed
	}
	if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Poll reports up to len(out) ready descriptors without waiting
// (epoll_wait with timeout 0). A Wake is consumed here and not reported.
func (s *Set) Poll(out []Readiness) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	n, _, err := s.poll(out)
	return n, err
}

// poll is Poll, and reports whether a Wake was consumed.
func (s *Set) poll(out []Readiness) (k int, woken bool, err error) {
	if cap(s.evs) < len(out) {
		s.evs = make([]unix.EpollEvent, len(out))
	}
	evs := s.evs[:len(out)]
	for {
		n, err := unix.EpollWait(s.ep, evs, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, false, os.NewSyscallError("epoll_wait", err)
		}
		for _, e := range evs[:n] {
			if e.Fd == wakeFD {
				var b [8]byte
				unix.Read(s.wake, b[:])
				woken = true
				continue
			}
			out[k] = Readiness{FD: int(e.Fd), Tag: uint32(e.Pad), Events: events(e.Events)}
			k++
		}
		return k, woken, nil
	}
}

// events converts epoll's bits as curl's own epoll example does:
// IN, RDHUP, HUP and ERR are readiness to read, OUT, HUP and ERR to write.
func events(b uint32) Event {
	var ev Event
	if b&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ev |= Read
	}
	if b&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ev |= Write
	}
	if b&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ev |= Hangup
	}
	return ev
}

// Park waits until a descriptor of the set is ready, Wake is called, or the
// deadline passes (os.ErrDeadlineExceeded, which stays until SetDeadline
// moves the deadline). It reports what Poll would, and returns 0 and nil
// for a Wake alone. The goroutine parks on the runtime's poller; no thread
// blocks.
func (s *Set) Park(out []Readiness) (n int, err error) {
	if s.closed {
		return 0, ErrClosed
	}
	s.parkOut, s.parkN, s.parkErr = out, 0, nil
	err = s.rc.Read(s.tryFn)
	n, perr := s.parkN, s.parkErr
	s.parkOut, s.parkErr = nil, nil
	if perr != nil {
		return 0, perr
	}
	return n, err
}

// try is Park's RawConn.Read callback: a real try, so that readiness that
// came before the runtime armed its edge-triggered wait is found here,
// never lost.
func (s *Set) try(uintptr) bool {
	var woken bool
	s.parkN, woken, s.parkErr = s.poll(s.parkOut)
	return s.parkN > 0 || woken || s.parkErr != nil
}

// SetDeadline sets the time at which Park returns os.ErrDeadlineExceeded,
// the zero time for none. It is the read deadline of the set's file.
func (s *Set) SetDeadline(t time.Time) error {
	if s.closed {
		return ErrClosed
	}
	s.deadline = t
	return s.file.SetReadDeadline(t)
}

var one = [8]byte{1}

// Wake makes the current Park return, or the next one if none is in
// progress. Any goroutine may call it, but never once Close may have been
// called: the eventfd's number could then name another file.
func (s *Set) Wake() {
	for {
		_, err := unix.Write(s.wake, one[:])
		if err != unix.EINTR {
			return
		}
	}
}

// Rebuild replaces the epoll instance with an empty one: the last resort
// for an entry that no descriptor number reaches any more (one of a socket
// closed while another process still held it). The caller registers its
// descriptors again. The deadline carries over.
func (s *Set) Rebuild() error {
	if s.closed {
		return ErrClosed
	}
	old := s.file
	if err := s.open(); err != nil {
		return err
	}
	return old.Close()
}

// Close closes the set and its eventfd. It must not be called during Park.
func (s *Set) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.file.Close()
	if err2 := unix.Close(s.wake); err == nil && err2 != nil {
		err = os.NewSyscallError("close", err2)
	}
	return err
}

// Fd returns the epoll descriptor, for tests; never close it.
func (s *Set) Fd() int { return s.ep }
