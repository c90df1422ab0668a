package curlpoll_test

import (
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/curlpoll/curlpoll"
)

// checkLeaks fails the test if, at its end (after every Cleanup registered
// later has run: Multi and Transport closes, servers), the package holds
// more easy handles, cgo handles, watchers or duplicated sockets than at the
// call, if more descriptors are open, or if goroutines other than those at
// the start remain. Call it first in a test, before making anything.
func checkLeaks(t testing.TB) {
	t.Helper()
	before := curlpoll.LiveCounts()
	fds := openFDs(t)
	goroutines := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		var now curlpoll.Live
		var nfd int
		deadline := time.Now().Add(2 * time.Second)
		for {
			now, nfd = curlpoll.LiveCounts(), openFDs(t)
			if now == before && nfd <= fds || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if now != before {
			t.Errorf("live resources: %+v at the start, %+v at the end", before, now)
		}
		if nfd > fds {
			t.Errorf("open descriptors: %d at the start, %d at the end:\n%s", fds, nfd, listFDs())
		}
		if err := goleak.Find(goroutines); err != nil {
			t.Errorf("goroutines left: %v", err)
		}
		runtime.GC()
	})
}
