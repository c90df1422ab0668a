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

// connCounter counts a test server's open connections, and the most that
// were open at once: set its track method as the server's ConnState.
type connCounter struct{ open, peak atomic.Int32 }

func (c *connCounter) track(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		if n := c.open.Add(1); n > c.peak.Load() {
			c.peak.Store(n)
		}
	case http.StateClosed, http.StateHijacked:
		c.open.Add(-1)
	}
}
