package curlhttp

import (
	"context"
	"net/http"
	"runtime"
	"sync"
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
// to the response: an entry goes when its response is garbage
// (runtime.AddCleanup), and the map holds nothing a caller has let go of.
// A Transfer's Info stays valid after its Close. Plain maps under a lock,
// sharded by address: with a sync.Map and with the info copied out of the
// transfer when the call ended, as before, this cost about 3,000 instructions
// more per request (callgrind, make bench's h1 N=16 client).
var responseShards [16]responseShard

type responseShard struct {
	mu sync.Mutex
	m  map[weak.Pointer[http.Response]]*curlpoll.Transfer
	_  [48]byte // a cache line each
}

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
	s.m[k] = t
	s.mu.Unlock()
	runtime.AddCleanup(resp, forgetResponse, responseKey{k, s})
}

// responseKey is what a response's cleanup needs: its entry's key and
// shard (the address is gone with the response).
type responseKey struct {
	k weak.Pointer[http.Response]
	s *responseShard
}

func forgetResponse(r responseKey) {
	r.s.mu.Lock()
	delete(r.s.m, r.k)
	r.s.mu.Unlock()
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
// call.
func WithProgress(ctx context.Context, interval time.Duration, fn func(curlpoll.Progress) error) context.Context {
	return context.WithValue(ctx, progressKey{}, &progressOpt{every: interval, fn: fn})
}

func progressFrom(ctx context.Context) *progressOpt {
	p, _ := ctx.Value(progressKey{}).(*progressOpt)
	return p
}
