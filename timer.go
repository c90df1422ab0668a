package curlpoll

/*
#include "shim.h"

CURLMcode curlpoll_multi_socket_all(CURLM *m, int *running);
*/
import "C"

import "time"

// applyTimer does what libcurl's timer callback (CURLMOPT_TIMERFUNCTION)
// last asked for. libcurl keeps one timeout per multi handle, and each call
// replaces the last: -1 removes it, 0 asks for a timeout action as soon as
// possible, n > 0 in n milliseconds. It calls only when the expiry changes,
// so a timeout lost here would stall transfers for good.
//
// The callback itself (timer_cb in shim.c) only records the timeout in
// m.cs: crossing into Go for it cost as much as the rest of a small
// request's timer work. Since each call replaces the last, acting on the
// last one once the libcurl call has returned is the same as acting on
// each. The driver calls applyTimer after every libcurl call (afterCall)
// and before it waits for anything (run).
//
// The timeout action never runs inside the callback: libcurl refuses
// re-entrant calls (CURLM_RECURSIVE_API_CALL). For 0 the driver runs it
// right after the current libcurl call returns; otherwise the driver's
// timer fires. A stale fire of that timer, possible when the program runs
// with GODEBUG=asynctimerchan=1, is only an early timeout action, which
// libcurl answers by reporting the time that is left.
func (m *Multi) applyTimer() {
	if m.cs.timer_set != 0 {
		m.cs.timer_set = 0
		ms := int64(m.cs.timeout_ms)
		m.timer.Stop()
		m.rescueArmed = false
		m.timerDue = ms == 0
		m.curlTimer = ms > 0
		if ms > 0 {
			m.timer.Reset(time.Duration(ms) * time.Millisecond)
		}
	}
	if !m.curlTimer && !m.timerDue && !m.rescueArmed && len(m.active) > 0 {
		// libcurl wants no timeout while transfers run: arm the rescue.
		m.rescueArmed = true
		m.timer.Reset(stallRescueAfter)
	}
}

// stallRescueAfter is how long transfers may run with no timeout asked for
// before the driver runs them all once (stallRescue).
const stallRescueAfter = time.Second

// timerFired does what the driver's timer firing means: libcurl's timeout
// action, or the stall rescue.
func (m *Multi) timerFired() {
	m.curlTimer = false
	if !m.rescueArmed {
		m.socketAction(C.CURL_SOCKET_TIMEOUT, 0)
		return
	}
	m.rescueArmed = false
	if len(m.active) > 0 {
		m.stallRescue()
	}
	m.applyTimer()
}

// stallRescue runs every transfer once (curl_multi_socket_all). libcurl
// 7.88 can leave an FTP transfer on a reused control connection with
// neither a socket to wait for nor a timeout (after "229 Entering Extended
// Passive Mode"): it would hang until its context ends. A timeout action
// would not help: it runs only transfers whose timers expired.
func (m *Multi) stallRescue() {
	m.stats.rescues++
	var running C.int
	C.curlpoll_multi_socket_all(m.c, &running)
	m.stats.running = int(running)
	m.afterCall()
}
