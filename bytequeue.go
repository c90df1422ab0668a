package curlpoll

import "sync"

// byteQueue is a FIFO of bytes backed by one slice that is compacted rather
// than grown while it has room: the per-transfer buffer between libcurl's
// callbacks and a goroutine that reads or writes the body.
type byteQueue struct {
	b   []byte
	off int
}

func (q *byteQueue) Len() int { return len(q.b) - q.off }

func (q *byteQueue) Write(p []byte) {
	if q.off > 0 && len(q.b)+len(p) > cap(q.b) {
		n := copy(q.b, q.b[q.off:])
		q.b, q.off = q.b[:n], 0
	}
	if need := len(q.b) + len(p); need > cap(q.b) {
		q.grow(need)
	}
	q.b = append(q.b, p...)
}

// grow makes room for need bytes. A small queue doubles; one that
// outgrows queueSmall is carrying a bulk body, and takes at once the room
// it can need between two pauses, instead of doubling its way there with a
// copy each time.
func (q *byteQueue) grow(need int) {
	n := max(need, 2*cap(q.b))
	var b []byte
	if n > queueSmall {
		if n = max(need, queueBulk); n == queueBulk {
			b = bulkBuffers.Get().(*[queueBulk]byte)[:len(q.b)]
		}
	}
	if b == nil {
		b = make([]byte, len(q.b), n)
	}
	copy(b, q.b)
	q.b = b
}

const (
	queueSmall = 64 << 10
	queueBulk  = recvHighWater + 64<<10 // the high-water mark, and a chunk past it
)

// bulkBuffers holds the storage of queues that carried a bulk body, for the
// next one: a transfer of a large body would otherwise allocate and zero
// queueBulk bytes (twice, for WriteTo's two buffers), which the garbage
// collector then has to find. A pool, not a per-handle cache, so that idle
// handles keep nothing.
var bulkBuffers = sync.Pool{New: func() any { return new([queueBulk]byte) }}

// releaseBulk returns b's storage to bulkBuffers if it came from there.
// The caller must be the last user of b.
func releaseBulk(b []byte) {
	if cap(b) == queueBulk {
		bulkBuffers.Put((*[queueBulk]byte)(b[:queueBulk]))
	}
}

func (q *byteQueue) Read(p []byte) int {
	n := copy(p, q.b[q.off:])
	q.off += n
	if q.off == len(q.b) {
		q.b, q.off = q.b[:0], 0
	}
	return n
}

// Swap hands out every queued byte and continues with spare's storage. The
// caller owns the returned slice, and can give it back as the next spare.
func (q *byteQueue) Swap(spare []byte) []byte {
	out := q.b[q.off:]
	q.b, q.off = spare[:0], 0
	return out
}

// Reset drops the queued bytes.
func (q *byteQueue) Reset() { q.b, q.off = q.b[:0], 0 }
