// Package netpoll waits for readiness of file descriptors that Go did not
// open (a C library's sockets, for instance) through the Go runtime's network
// poller, without a poll loop and without an OS thread per descriptor.
//
// An [FD] wraps a descriptor with [os.NewFile] and waits through
// [syscall.RawConn]. Two properties of that path shape the package:
//
//   - The runtime poller is edge-triggered, and RawConn.Read/Write reset the
//     descriptor's pending readiness before calling their callback
//     (internal/poll's prepareRead → runtime_pollReset), so an edge that came
//     before the wait is forgotten (golang/go#70373). Every wait therefore
//     starts, and resumes after each wake-up, with a zero-timeout poll(2) of
//     the real state: a descriptor that is already ready is reported at once,
//     and nothing is lost.
//   - os.File.Close waits for RawConn callbacks in progress. The callbacks
//     here only call poll(2) and return, so Close never waits long; callers
//     must not close an FD from code that runs inside one of its own waits
//     (there is no way to do so through this API).
//
// The package knows nothing about curl.
package netpoll

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by waits on an FD that was closed, including waits
// that were in progress when Close was called. The os package reports such a
// wait as "use of closed file", which is not os.ErrClosed, so the FD decides
// by its own state and returns this one error.
var ErrClosed = errors.New("netpoll: use of closed FD")

// Event is a readiness direction.
type Event uint8

const (
	// Read is readiness to read: data, end of stream, a hang-up or an error.
	Read Event = 1 << iota
	// Write is readiness to write: buffer space, a hang-up or an error.
	Write
)

func (e Event) String() string {
	switch e {
	case Read:
		return "read"
	case Write:
		return "write"
	case Read | Write:
		return "read|write"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// FD is a file descriptor registered with the runtime network poller.
//
// At most one goroutine may wait for Read and one for Write at a time (the
// runtime allows one waiter per direction). Close may be called from any
// goroutine, any number of times.
type FD struct {
	file   *os.File
	rc     syscall.RawConn
	fd     int // the registered descriptor, for poll(2); valid until Close
	closed atomic.Bool
}

// Dup registers a duplicate of fd with the poller and returns it. fd stays
// the caller's: Dup never closes it, and closing the FD closes only the
// duplicate. The duplicate is close-on-exec.
//
// The runtime poller registers only non-blocking descriptors, so Dup sets
// O_NONBLOCK on the duplicate. That flag belongs to the open file
// description, which fd shares: fd becomes non-blocking too.
//
// A duplicate keeps the underlying socket open after the owner closes fd, so
// the caller must Close the FD no later than the moment it learns that fd
// was closed.
func Dup(fd int) (*FD, error) {
	// F_DUPFD_CLOEXEC: a concurrent fork/exec must not inherit the duplicate.
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	p, err := Own(nfd)
	if err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return p, nil
}

// Own registers fd with the poller and takes ownership of it: fd is closed by
// Close, and must not be closed or used for I/O by anyone else. Own sets
// O_NONBLOCK on fd. On error fd is still the caller's.
func Own(fd int) (*FD, error) {
	// os.NewFile registers the descriptor with the poller only when it is
	// already non-blocking (os.newFileFromNewFile → kindNonBlock); a blocking
	// one would be silently unpollable.
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("netpoll:%d", fd))
	if f == nil {
		return nil, fmt.Errorf("netpoll: invalid descriptor %d", fd)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	// SetReadDeadline fails with ErrNoDeadline when the runtime refused to
	// register the descriptor (a regular file, or EPOLL_CTL_ADD failing with
	// EEXIST or EPERM). Waits would then fail; say so now instead.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("netpoll: descriptor %d is not pollable: %w", fd, err)
	}
	return &FD{file: f, rc: rc, fd: fd}, nil
}

// Wait blocks until the descriptor is ready for ev (Read or Write, not both),
// the FD is closed (ErrClosed), or ctx is done (ctx.Err()). A descriptor that
// is ready when Wait is called is reported at once.
//
// A context that can never be done costs nothing; one that can is watched
// with context.AfterFunc, which interrupts the wait through a deadline.
func (p *FD) Wait(ctx context.Context, ev Event) error {
	if ctx.Done() == nil {
		return p.wait(ev)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		p.Interrupt(ev)
	})
	err := p.wait(ev)
	if !stop() {
		// The AfterFunc ran, or is running: wait until its deadline is set,
		// then clear it, since a deadline in the past is sticky and would
		// fail every later wait in this direction.
		<-interrupted
		p.ClearInterrupt(ev)
		if err != nil && err != ErrClosed {
			return ctx.Err()
		}
	}
	return err
}

// Interrupt makes the wait for ev in progress return, or the next one if
// none is: it sets a deadline in the past, which stays until
// ClearInterrupt. The interrupted wait returns an error that is not
// ErrClosed (os.ErrDeadlineExceeded).
func (p *FD) Interrupt(ev Event) { p.setDeadline(ev, time.Unix(1, 0)) }

// ClearInterrupt lets waits for ev block again after Interrupt.
func (p *FD) ClearInterrupt(ev Event) { p.setDeadline(ev, time.Time{}) }

func (p *FD) setDeadline(ev Event, t time.Time) {
	if ev == Read {
		p.file.SetReadDeadline(t)
	} else {
		p.file.SetWriteDeadline(t)
	}
}

func (p *FD) wait(ev Event) error {
	var events int16
	switch ev {
	case Read:
		events = unix.POLLIN | unix.POLLRDHUP
	case Write:
		events = unix.POLLOUT
	default:
		return fmt.Errorf("netpoll: Wait for %v: want Read or Write", ev)
	}
	if p.closed.Load() {
		return ErrClosed
	}
	var probeErr error
	probe := func(fd uintptr) bool {
		ready, err := pollNow(int(fd), events)
		if err != nil {
			probeErr = err
			return true
		}
		return ready
	}
	var err error
	if ev == Read {
		err = p.rc.Read(probe)
	} else {
		err = p.rc.Write(probe)
	}
	switch {
	case p.closed.Load():
		return ErrClosed
	case err == nil:
		return probeErr
	case isNotPollable(err):
		// An event that was exactly EPOLLERR marks the descriptor so that
		// every wait fails before its callback runs (runtime setEventErr).
		// An error is readiness in both directions: the owner's next I/O
		// call reports the real errno.
		return nil
	}
	return err
}

// isNotPollable reports internal/poll.ErrNotPollable, which is not exported;
// its text is part of the os package's documented behaviour for waits after
// EPOLLERR.
func isNotPollable(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "not pollable" {
			return true
		}
	}
	return false
}

// pollNow reports whether fd is ready for events now, without blocking. A
// hang-up, an error or an invalid descriptor count as ready.
func pollNow(fd int, events int16) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("poll", err)
		}
		return n > 0 && fds[0].Revents != 0, nil
	}
}

// Ready reports whether the descriptor is ready for ev (Read or Write) now,
// with a zero-timeout poll(2) and no wait. Errors, hang-ups and a closed FD
// count as ready: the caller's next I/O or Wait reports them.
func (p *FD) Ready(ev Event) bool {
	if p.closed.Load() {
		return true
	}
	events := int16(unix.POLLOUT)
	if ev == Read {
		events = unix.POLLIN | unix.POLLRDHUP
	}
	ready, err := pollNow(p.fd, events)
	return ready || err != nil
}

// Close deregisters and closes the descriptor, waking every waiter with
// ErrClosed. It waits for a RawConn callback in progress (a poll(2) call)
// to return. Close is idempotent: only the first call closes.
func (p *FD) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return p.file.Close()
}

// Fd returns the registered descriptor (the duplicate, for an FD made by
// Dup). It stays valid until Close; never close it directly.
func (p *FD) Fd() int { return p.fd }
