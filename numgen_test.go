package curlpoll

import "testing"

// TestNumGenSlots: every number below numGens has a count of its own in
// curlpoll_numgens, and no number from numGens up has one. A count shared
// by two numbers would move for a socket still open when a socket under
// the other number opened or closed, and the driver would then drop the
// open socket's events as stale until a rebuild took it out of the set:
// its transfer stalled until the stall rescue (an independent review's
// case, with the table indexed modulo its size).
func TestNumGenSlots(t *testing.T) {
	seen := map[*uint32]int{}
	for _, fd := range []int{0, 1, 2, 3, 1000, numGens/2 + 1, numGens - 1} {
		p := numGenSlot(fd)
		if p == nil {
			t.Fatalf("number %d has no count", fd)
		}
		if other, dup := seen[p]; dup {
			t.Fatalf("numbers %d and %d share a count", other, fd)
		}
		seen[p] = fd
	}
	for _, fd := range []int{-1, numGens, numGens + 1, numGens + 1000, 2 * numGens, 1 << 30} {
		if numGenSlot(fd) != nil || numGen(fd) != 0 {
			t.Errorf("number %d has a count, which a number below %d shares", fd, numGens)
		}
		if s := (sockState{}); !s.live(fd) {
			t.Errorf("a socket under number %d, which has no count, is not taken as live", fd)
		}
	}
}
