package curlpoll

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHandleTable: a handle finds what it was made for until it is
// deleted, then nothing, even once its slot serves another; 0 and handles
// never made find nothing; the table grows past a chunk without moving
// what it holds; deleting twice frees the slot once.
func TestHandleTable(t *testing.T) {
	var tab handleTable[int]
	before := liveHandles.Load()
	if tab.get(0) != nil || tab.get(12345) != nil {
		t.Fatal("an empty table found something")
	}
	vals := make([]int, 3*handleChunk+5)
	hs := make([]uintptr, len(vals))
	for i := range vals {
		hs[i] = tab.add(&vals[i])
	}
	if got := liveHandles.Load() - before; got != int64(len(vals)) {
		t.Fatalf("live handles +%d, want +%d", got, len(vals))
	}
	for i, h := range hs {
		if h == 0 || tab.get(h) != &vals[i] {
			t.Fatalf("handle %#x (value %d) finds %p", h, i, tab.get(h))
		}
	}
	if tab.get(0) != nil {
		t.Fatal("handle 0 found something")
	}
	old := hs[7]
	tab.delete(old)
	tab.delete(old) // harmless
	if tab.get(old) != nil {
		t.Fatal("a deleted handle still finds its value")
	}
	var x int
	h := tab.add(&x) // takes the freed slot
	if h == old {
		t.Fatal("a reused slot gave the deleted handle again")
	}
	if tab.get(h) != &x || tab.get(old) != nil {
		t.Fatal("the reused slot answers the wrong handle")
	}
	if len(tab.free) != 0 {
		t.Fatalf("%d free slots after the reuse, want 0 (a double delete freed twice)", len(tab.free))
	}
	tab.delete(old) // stale: must not free the slot x holds
	if tab.get(h) != &x {
		t.Fatal("deleting a stale handle ended the slot's new one")
	}
	tab.delete(h)
	for _, h := range hs {
		tab.delete(h)
	}
	if got := liveHandles.Load() - before; got != 0 {
		t.Fatalf("live handles +%d after deleting all, want 0", got)
	}
}

// TestHandleTableConcurrent: lookups of live handles while others are made
// and deleted on other goroutines (for the race detector, and that a
// growing table never loses a live slot).
func TestHandleTableConcurrent(t *testing.T) {
	var tab handleTable[int]
	keep := make([]int, 64)
	hs := make([]uintptr, len(keep))
	for i := range keep {
		hs[i] = tab.add(&keep[i])
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals := make([]int, 300)
			for round := 0; round < 20; round++ {
				made := make([]uintptr, len(vals))
				for i := range vals {
					made[i] = tab.add(&vals[i])
				}
				for i, h := range made {
					if tab.get(h) != &vals[i] {
						t.Error("a live handle lost its value")
						return
					}
					tab.delete(h)
				}
			}
		}()
	}
	for round := 0; round < 200; round++ {
		for i, h := range hs {
			if tab.get(h) != &keep[i] {
				t.Fatal("a kept handle lost its value while the table changed")
			}
		}
	}
	wg.Wait()
	for _, h := range hs {
		tab.delete(h)
	}
}

// TestHandleTableStaleRace looks handles up on one goroutine while
// another deletes them and gives their slot to another value: a lookup
// finds the first value or nothing, never the second (get checks the
// generation again after it loads the value). Bounded by a count and by
// time; the window is a few instructions wide, so it takes many rounds.
func TestHandleTableStaleRace(t *testing.T) {
	var tab handleTable[int]
	var a, b int
	var cur atomic.Uintptr
	var wrong atomic.Bool
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for range 64 {
				if tab.get(cur.Load()) == &b {
					wrong.Store(true)
				}
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	for round := 0; round < 300000 && !wrong.Load() && (round%1024 != 0 || time.Now().Before(deadline)); round++ {
		h := tab.add(&a)
		cur.Store(h)
		tab.delete(h)
		h2 := tab.add(&b) // the same slot, the next generation
		tab.delete(h2)
	}
	close(stop)
	<-done
	if wrong.Load() {
		t.Fatal("a deleted handle found its slot's next value")
	}
}

// TestHandleTableDoubleDeleteRace deletes one handle on two goroutines at
// once: the slot is freed once.
func TestHandleTableDoubleDeleteRace(t *testing.T) {
	var tab handleTable[int]
	var a int
	before := liveHandles.Load()
	for round := 0; round < 2000; round++ {
		h := tab.add(&a)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tab.delete(h)
			}()
		}
		wg.Wait()
		if len(tab.free) != 1 || liveHandles.Load() != before {
			t.Fatalf("round %d: %d free slots, live handles %+d after two deletes of one handle; want 1 and +0",
				round, len(tab.free), liveHandles.Load()-before)
		}
	}
}

// TestHandleTableGenerationWrap: a slot whose generation wraps is not used
// again, so that a handle of its first use never finds a later value.
func TestHandleTableGenerationWrap(t *testing.T) {
	var tab handleTable[int]
	var a, b int
	h := tab.add(&a)
	tab.delete(h)
	s := tab.slot(uint32(h&(1<<handleIndexBits-1)) - 1)
	s.gen.Store(^uintptr(0) >> handleIndexBits) // the last generation before the wrap
	old := tab.add(&a)                          // takes the slot
	tab.delete(old)                             // wraps: the slot retires
	if len(tab.free) != 0 || tab.retired != 1 {
		t.Fatalf("%d free slots, %d retired after the wrap; want 0 and 1", len(tab.free), tab.retired)
	}
	h2 := tab.add(&b)
	if tab.get(h2) != &b || tab.get(old) != nil || tab.get(h) != nil {
		t.Fatal("a handle of a retired slot finds something, or the new one does not")
	}
	tab.delete(h2)
}
