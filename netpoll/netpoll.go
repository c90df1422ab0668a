// Package netpoll waits for readiness of many file descriptors that Go did
// not open (a C library's sockets, for instance) through the Go runtime's
// network poller, without a poll loop, without an OS thread that blocks, and
// without a goroutine or a duplicate descriptor per socket.
//
// A [Set] is a private readiness set of the operating system (epoll on
// Linux) holding the caller's descriptors by number, level-triggered. Only
// the set's own descriptor is an *os.File on the runtime's poller: a
// goroutine parks in [Set.Park] until some descriptor of the set is ready,
// the set is woken ([Set.Wake]), or a deadline passes. The package never
// closes, duplicates or wraps a descriptor it is given.
//
// The runtime poller is edge-triggered, and the set is level-triggered
// inside: Park probes the set (a zero-timeout wait) before it parks and
// after every wake-up, so readiness that came before the park is never
// lost; a caller that leaves ready descriptors unhandled finds them again in
// its next [Set.Poll].
//
// The package knows nothing about curl.
package netpoll

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by operations on a closed Set.
var ErrClosed = errors.New("netpoll: use of closed set")

// Event is a set of readiness conditions.
type Event uint8

const (
	// Read is readiness to read: data, end of stream, a hang-up or an error.
	Read Event = 1 << iota
	// Write is readiness to write: buffer space, a hang-up or an error.
	Write
	// Hangup is a hang-up or an error on the descriptor. The operating
	// system reports it whatever the interest, even none: a descriptor
	// that nobody wants to hear about must be forgotten, not given an
	// empty interest, or it stays ready for good.
	Hangup
)

func (e Event) String() string {
	if e == 0 {
		return "none"
	}
	s := ""
	for _, n := range []struct {
		ev   Event
		name string
	}{{Read, "read"}, {Write, "write"}, {Hangup, "hangup"}} {
		if e&n.ev != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	if rest := e &^ (Read | Write | Hangup); rest != 0 {
		s += fmt.Sprintf("|Event(%d)", uint8(rest))
	}
	return s
}

// Readiness is one ready descriptor, as Poll and Park report it.
type Readiness struct {
	FD     int    // the descriptor
	Tag    uint32 // the tag it was registered with
	Events Event  // what it is ready for (Read, Write, Hangup)
}

// Poller is what a driver needs of a readiness set; [*Set] implements it
// with epoll. A kqueue version for the BSDs and macOS would implement the
// same methods: a kqueue descriptor is itself pollable the same way.
type Poller interface {
	// Watch sets fd's interest (Read, Write or both) and tag, adding fd
	// to the set if it is not in it. known says whether the caller
	// believes it is; either way, a wrong guess costs one more call.
	Watch(fd int, ev Event, tag uint32, known bool) error
	// Forget removes fd from the set.
	Forget(fd int) error
	// Poll reports ready descriptors without waiting.
	Poll(out []Readiness) (int, error)
	// Park waits until a descriptor is ready, Wake is called or the
	// deadline passes, then reports what Poll would.
	Park(out []Readiness) (int, error)
	// SetDeadline sets the time at which Park returns
	// os.ErrDeadlineExceeded; the zero time means none.
	SetDeadline(t time.Time) error
	// Wake makes the current or next Park return.
	Wake()
	// Rebuild replaces the operating system's set with an empty one.
	Rebuild() error
	// Close releases the set.
	Close() error
}

var _ Poller = (*Set)(nil)
