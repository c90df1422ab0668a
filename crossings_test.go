package curlpoll_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// TestCrossingsPerRequest counts the calls from Go into C (runtime.NumCgoCall)
// and from C into Go (Stats.Callbacks) that one small request makes through
// Multi.Do on a reused Easy and a kept-alive connection, with a header block
// shaped like nginx's (status line, eight fields, blank line). Each crossing
// costs a fraction of a microsecond, a large share of a small request's CPU.
func TestCrossingsPerRequest(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Server", "nginx/1.22.1")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		h.Set("Connection", "keep-alive")
		h.Set("ETag", `"65920080-64"`)
		h.Set("Accept-Ranges", "bytes")
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/100b")
	ctx := context.Background()
	for i := 0; i < 3; i++ { // connect, warm libcurl's caches
		must(t, m.Do(ctx, e))
	}
	const n = 200
	before, err := m.Stats()
	must(t, err)
	calls := runtime.NumCgoCall()
	for i := 0; i < n; i++ {
		must(t, m.Do(ctx, e))
	}
	calls = runtime.NumCgoCall() - calls
	after, err := m.Stats()
	must(t, err)
	goToC := float64(calls) / n
	cToGo := float64(after.Callbacks-before.Callbacks) / n
	t.Logf("per request: %.2f calls from Go into C, %.2f from C into Go", goToC, cToGo)
	// Measured on libcurl 7.88.1 and 8.14.1: 5.7 and 1.0. One crossing
	// into Go, the write callback's, which brings the header block with
	// the body (Do waits for no header block); the socket and timer
	// callbacks recorded in C; the share, the errno and the add one call,
	// the info, removal and unshare one call.
	// Before: 8.2-9 and 3.5-5 (the socket callback crossed twice, the
	// header block once); before that 22-24 and 12.5-14. The bounds leave
	// room for a slow run whose response comes in pieces, and fail if a
	// crossing per request comes back.
	if goToC > 7.5 || cToGo > 1.5 {
		t.Errorf("per request: %.2f calls from Go into C (want <= 7.5), %.2f from C into Go (want <= 1.5)", goToC, cToGo)
	}
	per := func(a, b int) float64 { return float64(a-b) / n }
	t.Logf("timer callbacks: %.2f stop, %.2f now, %.2f set; socket callbacks: %.2f in, %.2f out, %.2f remove; actions: %.2f timeout, %.2f socket",
		per(after.TimerStop, before.TimerStop), per(after.TimerNow, before.TimerNow), per(after.TimerSet, before.TimerSet),
		per(after.PollIn, before.PollIn), per(after.PollOut, before.PollOut), per(after.PollRemove, before.PollRemove),
		per(after.ActionTimeout, before.ActionTimeout), per(after.ActionSocket, before.ActionSocket))
}
