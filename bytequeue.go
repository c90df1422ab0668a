package curlpoll

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
	q.b = append(q.b, p...)
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
