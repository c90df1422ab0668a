package curlpoll

// #include "shim.h"
import "C"

import (
	"sync"
	"unsafe"
)

// optBatch collects option settings for Easy.apply, which makes them in
// one cgo call (curlpoll_setopts): the Transport sets a dozen options and a
// header list per request, and each curl_easy_setopt through the single
// setters is a crossing into C, with a C copy of every string besides.
// Values live in Go memory without Go pointers, so C may read them during
// the call. A batch is for one goroutine; get one with getBatch and give it
// back with putBatch.
type optBatch struct {
	ops   []C.struct_curlpoll_opt
	arena []byte // strings (NUL-terminated), blobs and list items that ops point into by offset
	err   error  // the first value refused before C sees it; nothing is added after it
}

var batches = sync.Pool{New: func() any { return new(optBatch) }}

func getBatch() *optBatch { return batches.Get().(*optBatch) }

// putBatch empties b, header values and all, and pools it.
func putBatch(b *optBatch) {
	clear(b.arena)
	clear(b.ops) // the lists set are the Easy's now
	b.ops, b.arena, b.err = b.ops[:0], b.arena[:0], nil
	batches.Put(b)
}

func (b *optBatch) add(opt C.CURLoption, kind C.int, n int64, at int) {
	b.ops = append(b.ops, C.struct_curlpoll_opt{opt: opt, kind: kind, n: C.longlong(n), at: C.size_t(at)})
}

// long sets a long option, as Easy.setLong.
func (b *optBatch) long(opt C.CURLoption, v int64) {
	if b.err == nil {
		b.add(opt, C.CURLPOLL_OPT_LONG, v, 0)
	}
}

// bool sets a long option to 1 or 0, as Easy.setBool.
func (b *optBatch) bool(opt C.CURLoption, v bool) {
	var n int64
	if v {
		n = 1
	}
	b.long(opt, n)
}

// off sets a curl_off_t option, as Easy.setOff.
func (b *optBatch) off(opt C.CURLoption, v int64) {
	if b.err == nil {
		b.add(opt, C.CURLPOLL_OPT_OFF, v, 0)
	}
}

// str sets a string option, as Easy.setString: "" sets NULL, the option's
// default.
func (b *optBatch) str(opt C.CURLoption, v string) {
	if b.err != nil {
		return
	}
	if v == "" {
		b.add(opt, C.CURLPOLL_OPT_NULL, 0, 0)
		return
	}
	b.strParts(opt, v)
}

// strParts sets a string option to the concatenation of parts, none of
// them empty; it saves building the string in Go first.
func (b *optBatch) strParts(opt C.CURLoption, parts ...string) {
	if b.err != nil {
		return
	}
	for _, s := range parts {
		if b.err = checkCString(s); b.err != nil {
			return
		}
	}
	b.add(opt, C.CURLPOLL_OPT_STR, 0, len(b.arena))
	for _, s := range parts {
		b.arena = append(b.arena, s...)
	}
	b.arena = append(b.arena, 0)
}

// emptyStr sets a string option to "", not NULL (Easy.setBlobString with
// a lone NUL).
func (b *optBatch) emptyStr(opt C.CURLoption) {
	if b.err == nil {
		b.add(opt, C.CURLPOLL_OPT_STR, 0, len(b.arena))
		b.arena = append(b.arena, 0)
	}
}

// blob sets a blob option, as Easy.setBlob: libcurl copies it, and an
// empty one sets NULL.
func (b *optBatch) blob(opt C.CURLoption, v []byte) {
	if b.err != nil {
		return
	}
	if len(v) == 0 {
		b.add(opt, C.CURLPOLL_OPT_NULL, 0, 0)
		return
	}
	b.add(opt, C.CURLPOLL_OPT_BLOB, int64(len(v)), len(b.arena))
	b.arena = append(b.arena, v...)
}

// list starts a curl_slist option, as Easy.setList; item adds its items.
// The Easy owns the list once it is set.
func (b *optBatch) list(opt C.CURLoption) {
	if b.err == nil {
		b.add(opt, C.CURLPOLL_OPT_LIST, 0, len(b.arena))
	}
}

// item adds the line name+sep+value to the list started last.
func (b *optBatch) item(name, sep, value string) {
	if b.err != nil {
		return
	}
	for _, s := range [...]string{name, sep, value} {
		if b.err = checkCString(s); b.err != nil {
			return
		}
	}
	b.arena = append(append(append(append(b.arena, name...), sep...), value...), 0)
	b.ops[len(b.ops)-1].n++
}

// apply sets b's options on e in one cgo call, in order, and returns the
// first error: that of the first option libcurl refused, or b.err.
func (e *Easy) apply(b *optBatch) error {
	if err := e.idle(); err != nil {
		return err
	}
	if len(b.ops) == 0 {
		return b.err
	}
	var arena *C.char
	if len(b.arena) > 0 {
		arena = (*C.char)(unsafe.Pointer(&b.arena[0]))
	}
	var done C.int
	rc := C.curlpoll_setopts(e.c, &b.ops[0], C.int(len(b.ops)), arena, &done)
	for i := range b.ops[:done] {
		switch o := &b.ops[i]; o.kind {
		case C.CURLPOLL_OPT_LIST:
			e.keepList(o.opt, o.list)
		case C.CURLPOLL_OPT_LONG:
			e.noteLong(o.opt, int64(o.n))
		}
	}
	if rc != C.CURLE_OK {
		return optErr(b.ops[done].opt, rc)
	}
	return b.err
}
