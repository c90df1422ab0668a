package curlhttp

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"

	"github.com/curlpoll/curlpoll"
)

// ResponseInfo returns the timings, addresses and connection reuse of the
// transfer behind a response that a curlpoll Transport returned: what
// Transfer.Info reports for the low-level API. It is known once the
// transfer is over, that is once the body has been read to its end or
// closed (at once for a response without a body); until then, and for a
// response from another RoundTripper, ok is false.
func ResponseInfo(resp *http.Response) (info curlpoll.TransferInfo, ok bool) {
	k := weak.Make(resp)
	s := shardOf(resp)
	s.mu.Lock()
	t := s.m[k]
	s.mu.Unlock()
	if t == nil {
		return curlpoll.TransferInfo{}, false
	}
	return t.Info()
}

// The transfers of the responses the Transport returned, by weak pointer
// to the response: an entry goes in the first sweep after its response is
// garbage, and the map holds nothing a caller has let go of. A Transfer's
// Info stays valid after its Close. Plain maps under a lock, sharded by
// address: with a sync.Map and with the info copied out of the transfer
// when the call ended, as before, this cost about 3,000 instructions more
// per request (callgrind, make bench's h1 N=16 client).
//
// One sweep per garbage collection, not a cleanup per response: a
// runtime.AddCleanup for each response, and running it, cost ~2,900
// instructions per request (callgrind, make bench's h1 N=16 client at
// GOMAXPROCS=1: the Go side's 40.8k became 37.9k), where a sweep looks at
// each entry once per collection. The sweep runs from the cleanup of an
// object made for it (armSweep), which the runtime runs after the first
// collection that finds it unreachable, which clears the weak pointers of
// the responses that died before it: an entry stays about as long as with
// a cleanup of its own.
var responseShards [16]responseShard

type responseShard struct {
	mu sync.Mutex
	m  map[weak.Pointer[http.Response]]*curlpoll.Transfer
	_  [48]byte // a cache line each
}

var (
	responsesHeld atomic.Int64 // entries in responseShards
	sweepArmed    atomic.Bool  // a sweep is due after the next collection
)

func shardOf(resp *http.Response) *responseShard {
	p := uintptr(unsafe.Pointer(resp))
	return &responseShards[(p>>4)%uintptr(len(responseShards))]
}

// registerResponse makes ResponseInfo(resp) report t's info.
func registerResponse(resp *http.Response, t *curlpoll.Transfer) {
	k := weak.Make(resp)
	s := shardOf(resp)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[weak.Pointer[http.Response]]*curlpoll.Transfer)
	}
	n := len(s.m)
	s.m[k] = t
	responsesHeld.Add(int64(len(s.m) - n))
	s.mu.Unlock()
	// After the count: a sweep that ends meanwhile, finding none, sees it
	// (sweepResponses).
	if !sweepArmed.Load() && sweepArmed.CompareAndSwap(false, true) {
		armSweep()
	}
}

// sweepToken is what armSweep makes unreachable: pointers in it keep it
// out of the tiny allocator, whose blocks may never be freed.
type sweepToken struct{ _ [2]*byte }

// armSweep has sweepResponses run after the next garbage collection, on a
// goroutine of its own: its work grows with the entries (the review of
// 35cc29f measured 10 ms for 200,000 live ones, 62 ms for a million), and
// the runtime's cleanup goroutine, which runs every cleanup of the program
// (the Transport's own among them), must not wait for it.
func armSweep() {
	runtime.AddCleanup(new(sweepToken), func(struct{}) { go sweepResponses() }, struct{}{})
}

// sweepResponses drops the entries whose responses are garbage, and arms
// the next sweep while entries are left. It holds one shard's lock at a
// time (ResponseInfo and registerResponse wait for at most a sixteenth of
// the sweep).
func sweepResponses() {
	for i := range responseShards {
		s := &responseShards[i]
		s.mu.Lock()
		for k := range s.m {
			if k.Value() == nil {
				delete(s.m, k)
				responsesHeld.Add(-1)
			}
		}
		s.mu.Unlock()
	}
	if responsesHeld.Load() > 0 {
		armSweep() // sweepArmed stays true
		return
	}
	sweepArmed.Store(false)
	// An entry registered after the count saw sweepArmed still true and
	// did not arm: arm for it here (one of the two sees the other).
	if responsesHeld.Load() > 0 && sweepArmed.CompareAndSwap(false, true) {
		armSweep()
	}
}

// progressKey is the context key of WithProgress.
type progressKey struct{}

type progressOpt struct {
	every time.Duration
	fn    func(curlpoll.Progress) error
}

// WithProgress returns a context that makes the Transport report the
// progress of a request run with it: fn gets the bytes sent and received
// and their totals, at most once per interval (Easy.SetProgressInterval),
// as in Easy.SetProgressFunc. An error from fn aborts the request: its
// RoundTrip, or its body's Read, returns that error.
//
// fn runs on a goroutine of the request, never inside libcurl, like
// Easy.SetProgressFunc: a slow fn gets fewer calls, and one that blocks
// holds up only its own request, whose body's Close waits for its last
// call, and so does the Read that reaches the body's end (the request
// ends there).
func WithProgress(ctx context.Context, interval time.Duration, fn func(curlpoll.Progress) error) context.Context {
	return context.WithValue(ctx, progressKey{}, &progressOpt{every: interval, fn: fn})
}

func progressFrom(ctx context.Context) *progressOpt {
	p, _ := ctx.Value(progressKey{}).(*progressOpt)
	return p
}
