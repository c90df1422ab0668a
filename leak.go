package curlpoll

import (
	"runtime/cgo"
	"sync/atomic"
)

// Counts of what the package holds, for leak checks in tests: each is
// raised where the thing is made and lowered in the one place it is freed.
var (
	liveHandles atomic.Int64 // cgo.Handles not yet deleted (one per Easy and per Multi)
)

// newHandle is cgo.NewHandle, counted.
func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

// deleteHandle is Handle.Delete, counted.
func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}
