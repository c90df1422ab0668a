package curlpoll

import "time"

// onTimer is the timer callback's work (CURLMOPT_TIMERFUNCTION). libcurl
// keeps one timeout per multi handle, and each call replaces the last:
// -1 removes it, 0 asks for a timeout action as soon as possible, n > 0 in
// n milliseconds. It calls only when the expiry changes, so a timeout lost
// here would stall transfers for good.
//
// The timeout action never runs inside the callback: libcurl refuses
// re-entrant calls (CURLM_RECURSIVE_API_CALL). For 0 the driver runs it
// right after the current libcurl call returns; otherwise the driver's
// timer fires. A stale fire of that timer, possible when the program runs
// with GODEBUG=asynctimerchan=1, is only an early timeout action, which
// libcurl answers by reporting the time that is left.
func (m *Multi) onTimer(ms int64) {
	switch {
	case ms < 0:
		m.stats.timer[0]++
	case ms == 0:
		m.stats.timer[1]++
	default:
		m.stats.timer[2]++
	}
	m.timer.Stop()
	m.timerDue = ms == 0
	if ms > 0 {
		m.timer.Reset(time.Duration(ms) * time.Millisecond)
	}
}
