package curlpoll

import (
	"sync"
	"sync/atomic"
)

// The integers that C holds for an Easy or a Multi: the data shim.c passes
// back to every callback. cgo.Handle would do, but its Value is a sync.Map
// load (an interface hashed, a trie walked, often a cache miss), made four
// or five times per transfer; a CPU profile of the Transport's small
// requests put 3% of the Go side's time there. A table of the package's
// own is an index and two atomic loads.
//
// A handle is a slot's index plus one (0 is none) in its low handleIndexBits
// bits and the slot's generation above them: a slot is reused once its
// handle is deleted, and a stale handle then finds nothing, where a deleted
// cgo.Handle would panic. Slots never move: the table grows by chunks.
const (
	handleIndexBits = 24
	handleChunk     = 256
)

type handleTable[T any] struct {
	mu      sync.Mutex
	free    []uint32 // slots to reuse
	used    uint32   // slots handed out so far
	retired int      // slots never reused: their generation wrapped
	chunks  atomic.Pointer[[]*[handleChunk]handleSlot[T]]
}

type handleSlot[T any] struct {
	v   atomic.Pointer[T]
	gen atomic.Uintptr // bumped when the handle is deleted
}

var (
	easyHandles  handleTable[Easy]
	multiHandles handleTable[Multi]
)

// add returns a new handle for v.
func (t *handleTable[T]) add(v *T) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		if t.used+1 >= 1<<handleIndexBits {
			panic("curlpoll: too many live handles")
		}
		i = t.used
		t.used++
		var cs []*[handleChunk]handleSlot[T]
		if p := t.chunks.Load(); p != nil {
			cs = *p
		}
		if int(i/handleChunk) == len(cs) {
			cs = append(cs[:len(cs):len(cs)], new([handleChunk]handleSlot[T]))
			t.chunks.Store(&cs)
		}
	}
	s := t.slot(i)
	s.v.Store(v)
	liveHandles.Add(1)
	return uintptr(i+1) | s.gen.Load()<<handleIndexBits
}

// slot returns slot i, which exists.
func (t *handleTable[T]) slot(i uint32) *handleSlot[T] {
	return &(*t.chunks.Load())[i/handleChunk][i%handleChunk]
}

// get returns what h was made for, nil if h is 0, deleted or not from t.
func (t *handleTable[T]) get(h uintptr) *T {
	i := uint32(h&(1<<handleIndexBits-1)) - 1 // 0 becomes out of range
	p := t.chunks.Load()
	if p == nil || int(i/handleChunk) >= len(*p) {
		return nil
	}
	s := &(*p)[i/handleChunk][i%handleChunk]
	gen := h >> handleIndexBits
	if s.gen.Load()&(^uintptr(0)>>handleIndexBits) != gen {
		return nil
	}
	v := s.v.Load()
	if s.gen.Load()&(^uintptr(0)>>handleIndexBits) != gen {
		return nil // deleted (and perhaps reused) meanwhile
	}
	return v
}

// delete ends h: get returns nil for it from now on. Deleting 0 or a
// stale handle does nothing.
func (t *handleTable[T]) delete(h uintptr) {
	if t.get(h) == nil {
		return
	}
	i := uint32(h&(1<<handleIndexBits-1)) - 1
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slot(i)
	if s.gen.Load()&(^uintptr(0)>>handleIndexBits) != h>>handleIndexBits || s.v.Load() == nil {
		return // deleted meanwhile
	}
	s.v.Store(nil)
	if s.gen.Add(1)&(^uintptr(0)>>handleIndexBits) == 0 {
		// The generation wrapped (after 256 uses of the slot where
		// uintptr has 32 bits, 2^40 where it has 64): a handle from
		// its first use would find the next one. The slot retires.
		t.retired++
	} else {
		t.free = append(t.free, i)
	}
	liveHandles.Add(-1)
}
