package curlpoll

// Stats are counters of a Multi's driver since NewMulti, for monitoring,
// debugging and tests. The counts of calls are cumulative; Active, Sockets,
// Wanted and Running are the state at the moment.
type Stats struct {
	// Rescues counts the times the driver ran all of libcurl's transfers
	// because one of them, not paused, had not moved for a second.
	// libcurl 7.88 leaves FTP transfers on a reused control connection,
	// and explicit FTPS ones, with neither a socket nor a timeout of their
	// own; a transfer that waits that long for its server counts too. In
	// HTTP traffic that answers promptly a rescue means a lost timeout or a
	// lost readiness, and is a bug to report.
	Rescues int
	// Spins counts sockets that the spin guard took out of the event set
	// for a back-off: ready again and again while nothing moved.
	Spins int

	Active    int // transfers attached now
	Completed int // transfers libcurl reported finished (curl_multi_info_read)
	Running   int // running_handles after the last socket action
	Sockets   int // sockets in the event set now, kept idle connections included
	Wanted    int // sockets libcurl waits for now

	PollNone, PollIn, PollOut, PollInOut, PollRemove int // socket callbacks by CURL_POLL_* action
	TimerStop, TimerNow, TimerSet                    int // timer callbacks with -1, 0, more
	ActionTimeout, ActionSocket                      int // curl_multi_socket_action calls
	CloseCallbacks                                   int // close-socket callbacks
	RecvPauses                                       int // times the write callback paused a transfer
	Callbacks                                        int // calls from C into Go

	EpollCtl    int // changes to the event set (epoll_ctl)
	WatchErrors int // sockets the event set refused (a closed descriptor)
	Unwanted    int // events for sockets libcurl wanted nothing of, which then left the set
	Stale       int // events of registrations the driver had forgotten, dropped
	Rebuilds    int // times the event set was rebuilt to shed such registrations
	Turns       int // driver turns
	Parks       int // times the driver parked on the poller
	Exits       int // times the driver goroutine ended because the Multi was idle
}

// Stats returns the driver's counters, or ErrClosed once the Multi is
// closed.
func (m *Multi) Stats() (Stats, error) {
	var s Stats
	err := m.exec(func() error {
		c := &m.stats
		s = Stats{
			Rescues: c.rescues, Spins: c.spins,
			Active: len(m.active), Completed: c.completed, Running: c.running, Wanted: m.wanting,
			PollNone: c.poll[0], PollIn: c.poll[1], PollOut: c.poll[2], PollInOut: c.poll[3], PollRemove: c.poll[4],
			TimerStop: int(m.cs.timer_calls[0]), TimerNow: int(m.cs.timer_calls[1]), TimerSet: int(m.cs.timer_calls[2]),
			ActionTimeout: c.actionTimeout, ActionSocket: c.actionSocket,
			CloseCallbacks: c.closed, RecvPauses: c.recvPauses, Callbacks: c.callbacks,
			EpollCtl: c.ctl, WatchErrors: c.watchErrors, Unwanted: c.unwanted, Stale: c.stale,
			Rebuilds: c.rebuilds, Turns: c.turns, Parks: c.parks, Exits: c.exits,
		}
		for i := range m.socks {
			if m.socks[i].in && m.socks[i].live(i) {
				s.Sockets++
			}
		}
		return nil
	})
	return s, err
}
