package curlhttp_test

import (
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
