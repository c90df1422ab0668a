package curlhttp

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"
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
	v, found := responseInfos.Load(weak.Make(resp))
	if !found {
		return curlpoll.TransferInfo{}, false
	}
	return v.(*infoBox).get()
}

// responseInfos maps each response the Transport returned to its
// transfer's info. The keys are weak: an entry is deleted when its response
// is garbage (runtime.AddCleanup), so the map holds nothing a caller has
// let go of.
var responseInfos sync.Map // weak.Pointer[http.Response] → *infoBox

// infoBox holds a transfer until it is over, then only its info.
type infoBox struct {
	// mu guards t, info and ok.
	mu   sync.Mutex
	t    *curlpoll.Transfer
	info curlpoll.TransferInfo
	ok   bool
}

func (b *infoBox) get() (curlpoll.TransferInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ok && b.t != nil {
		if b.info, b.ok = b.t.Info(); b.ok {
			b.t = nil
		}
	}
	return b.info, b.ok
}

// registerResponse makes ResponseInfo(resp) report t's info; the returned
// box is filled (get) when the call ends, to let go of t.
func registerResponse(resp *http.Response, t *curlpoll.Transfer) *infoBox {
	b := &infoBox{t: t}
	k := weak.Make(resp)
	responseInfos.Store(k, b)
	runtime.AddCleanup(resp, func(k weak.Pointer[http.Response]) { responseInfos.Delete(k) }, k)
	return b
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
