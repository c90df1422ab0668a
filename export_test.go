package curlpoll

import (
	"context"
	"net/http"

	"github.com/curlpoll/curlpoll/netpoll"
)

// Stats is what tests can see of a Multi's driver.
type Stats struct {
	PollNone, PollIn, PollOut, PollInOut, PollRemove int // socket callbacks by action
	TimerStop, TimerNow, TimerSet                    int // timer callbacks: -1, 0, n
	ActionTimeout, ActionSocket                      int // socket_action calls
	Completed                                        int // done messages from info_read
	StaleReady, Replaced, WatchersMade               int
	Sockets                                          int // sockets being watched now, parked ones aside
	Parked                                           int // watchers kept across REMOVE for an idle connection
	ParkedTotal, CloseCallbacks, SilentCloses        int
	Active                                           int // transfers attached now
	RecvPauses                                       int
	Spins                                            int
	Running                                          int // running_handles after the last socket action
	Lent, WatcherWaits                               int // read waits lent to consumers, waits of watcher goroutines
	Callbacks                                        int // calls from C into Go
	Rescues                                          int // stall rescues
}

// Stats returns the driver's counters.
func (m *Multi) Stats() (Stats, error) {
	var s Stats
	err := m.exec(func() error {
		c := m.stats
		s = Stats{
			PollNone: c.poll[0], PollIn: c.poll[1], PollOut: c.poll[2], PollInOut: c.poll[3], PollRemove: c.poll[4],
			TimerStop: int(m.cs.timer_calls[0]), TimerNow: int(m.cs.timer_calls[1]), TimerSet: int(m.cs.timer_calls[2]),
			ActionTimeout: c.actionTimeout, ActionSocket: c.actionSocket,
			Completed: c.completed, StaleReady: c.staleReady, Replaced: c.replaced, WatchersMade: c.watchers,
			Active: len(m.active), RecvPauses: c.recvPauses, Spins: c.spins, Running: c.running,
			ParkedTotal: c.parked, CloseCallbacks: c.closed, SilentCloses: c.silentCloses,
			Lent: c.lent, WatcherWaits: c.watcherWaits,
			Callbacks: c.callbacks,
			Rescues:   c.rescues,
		}
		// A parked watcher of a socket that is still open is an idle
		// connection in libcurl's cache; one whose socket is gone is a leak
		// and counts as watched.
		for _, w := range m.sockets {
			if w.want == 0 && w.owned && w.sameSocket() {
				s.Parked++
			} else {
				s.Sockets++
			}
		}
		return nil
	})
	return s, err
}

// LiveEasies returns the number of easy handles not yet cleaned up.
func LiveEasies() int64 { return liveEasies.Load() }

// SocketCallback runs the socket callback's handler on the driver, as
// libcurl would, for fd with the CURL_POLL_* action what and private id.
// It returns the id the socket is known by afterwards (0 after REMOVE).
func (m *Multi) SocketCallback(fd, what int, id uint64) (uint64, error) {
	var out uint64
	err := m.exec(func() error {
		m.onSocket(fd, what, id, nil)
		for _, w := range m.sockets {
			if w.fd == fd && !w.closed {
				out = w.id
			}
		}
		return nil
	})
	return out, err
}

// Watching reports what the watcher with id waits for.
func (m *Multi) Watching(id uint64) (want netpoll.Event, armed [2]bool, ok bool, err error) {
	err = m.exec(func() error {
		w := m.sockets[id]
		if w != nil {
			want, armed, ok = w.want, w.armed, true
		}
		return nil
	})
	return
}

// WritePath runs the Go side of the write callback (what goWrite does once
// it has found the transfer) n times with chunk, each time reading the
// chunk back out as a consumer would. It returns the bytes read.
func WritePath(chunk []byte, n int) int {
	m := &Multi{} // no driver: nothing here pauses or posts
	t := newTransfer(m, nil, context.Background())
	buf := make([]byte, len(chunk))
	total := 0
	for i := 0; i < n; i++ {
		if int(t.onBody(chunk)) != len(chunk) {
			panic("write callback paused")
		}
		k, _ := t.Read(buf)
		total += k
	}
	return total
}

// Live is what the package holds at a moment, for leak checks.
type Live struct {
	Easies   int64 // easy handles not yet cleaned up
	Handles  int64 // cgo.Handles not yet deleted (Easy and Multi)
	Watchers int64 // sockets being watched, over every Multi
	WatchRun int64 // watcher goroutines running
	Sockets  int64 // duplicated socket descriptors held open
}

// LiveCounts returns the package's live resource counts.
func LiveCounts() Live {
	return Live{
		Easies:   liveEasies.Load(),
		Handles:  liveHandles.Load(),
		Watchers: liveWatchers.Load(),
		WatchRun: liveWatchRun.Load(),
		Sockets:  liveDups.Load(),
	}
}

// The Transport's converters, for fuzzing.
var (
	ValidateRequest    = validateRequest
	RequestHeaderLines = requestHeaderLines
	ParseHeaderLines   = parseHeaderLines
	ParseStatus        = parseStatus
	RequestTarget      = requestTarget // the URL libcurl is given (without ServerName)
)

// ParseStatusLine is parseStatusLine on a fresh Response.
func ParseStatusLine(line string) (*http.Response, error) {
	resp := &http.Response{}
	return resp, parseStatusLine(resp, line)
}

// LibcurlH2CReuseBroken is libcurlH2CReuseBroken, for tests that count
// connections.
func LibcurlH2CReuseBroken() bool { return libcurlH2CReuseBroken() }

// LibcurlMultiplexSafe is libcurlMultiplexSafe: whether NewMulti
// multiplexes HTTP/2 by default.
func LibcurlMultiplexSafe() bool { return libcurlMultiplexSafe() }

// LibcurlTakesCertBlobs is libcurlTakesCertBlobs.
func LibcurlTakesCertBlobs() bool { return libcurlTakesCertBlobs() }
