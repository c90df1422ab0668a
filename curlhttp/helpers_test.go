package curlhttp_test

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/curlpoll/curlpoll/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	testutil.CheckLibcurl()
	testutil.WarmUp()
	goleak.VerifyTestMain(m)
}

// The helpers shared with the core's tests (internal/testutil).
var (
	must         = testutil.Must
	mustReq      = testutil.MustReq
	testServer   = testutil.TestServer
	handler      = testutil.Handler
	newTLSServer = testutil.NewTLSServer
	serverCAPEM  = testutil.ServerCAPEM
	openFDs      = testutil.OpenFDs
	checkLeaks   = testutil.CheckLeaks
)

type recordHandler = testutil.RecordHandler

// connCounter counts a test server's connections: open now, the most open
// at once, and opened in all. Set its track method as the server's
// ConnState.
type connCounter struct{ open, peak, total atomic.Int32 }

func (c *connCounter) track(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.total.Add(1)
		n := c.open.Add(1)
		for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
		}
	case http.StateClosed, http.StateHijacked:
		c.open.Add(-1)
	}
}
