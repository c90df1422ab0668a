package curlpoll

import (
	"runtime/cgo"
	"sync/atomic"
)

// Counts of what the package holds, for leak checks in tests: each is
// raised where the thing is made and lowered in the one place it is freed.
var (
	liveHandles atomic.Int64 // handles not yet deleted: one per Easy and per Multi (handles.go), one per mime part fed by a reader (cgo.Handle)
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

// Live is what curlpoll holds at a moment, for leak checks in tests: a
// program that closed every Multi, Easy and Transport (or dropped the
// Transports, whose cleanup closes them) is back to the counts it started
// with once they are closed.
type Live struct {
	Easies  int64 // easy handles not yet cleaned up
	Handles int64 // handles not yet deleted (of an Easy, a Multi or a mime reader)
}

// LiveCounts returns what curlpoll holds now.
func LiveCounts() Live {
	return Live{Easies: liveEasies.Load(), Handles: liveHandles.Load()}
}
