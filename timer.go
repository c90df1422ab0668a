package curlpoll

// #include "shim.h"
import "C"

import "time"

// applyTimer takes in what libcurl's timer callback (CURLMOPT_TIMERFUNCTION)
// last asked for. libcurl keeps one timeout per multi handle, and each call
// replaces the last: -1 removes it, 0 asks for a timeout action as soon as
// possible, n > 0 in n milliseconds. It calls only when the expiry changes,
// so a timeout lost here would stall transfers for good; an early timeout
// action is harmless (libcurl runs what is due and nothing else).
//
// The callback itself (timer_cb in shim.c) only records the timeout in
// m.cs: crossing into Go for it cost as much as the rest of a small
// request's timer work. Since each call replaces the last, acting on the
// last one once the libcurl call has returned is the same as acting on
// each. The driver calls applyTimer after every libcurl call.
//
// The timeout action never runs inside the callback: libcurl refuses
// re-entrant calls (CURLM_RECURSIVE_API_CALL). For 0 the driver's next
// turn runs it; otherwise it becomes the event set's deadline when the
// driver parks (Multi.setDeadline): no time.Timer, no goroutine.
func (m *Multi) applyTimer() {
	if m.cs.timer_set == 0 {
		return
	}
	m.cs.timer_set = 0
	ms := int64(m.cs.timeout_ms)
	m.timeoutMS = ms
	switch {
	case ms == 0:
		m.timerDue = true
	case ms > 0:
		m.timeoutAt = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
}
