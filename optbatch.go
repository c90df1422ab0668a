package curlpoll

// #include "shim.h"
import "C"

import (
	"bytes"
	"errors"
	"sync"
	"unsafe"
)

// OptionBatch collects option settings that Easy.Apply makes in one call
// into libcurl, in order: a program that sets a dozen options and a header
// list per transfer (curlhttp.Transport does) saves a crossing into C per
// option and a C copy of every string. Each setting is checked as the
// escape hatches check them (SetOptionLong and the like: the option's kind
// in libcurl's table, and none of curlpoll's own options), and the first
// refused one is kept as the batch's error: nothing is added after it, and
// Apply returns it without setting anything. Values are copied into the
// batch.
//
// The zero OptionBatch is empty and ready to use; Reset empties it for
// reuse, keeping its memory. A batch is for one goroutine at a time.
type OptionBatch struct {
	ops   []C.struct_curlpoll_opt
	arena []byte // strings (NUL-terminated), blobs and list items that ops point into by offset
	// caBlobs are CA blobs (CURLOPT_CAINFO_BLOB, CURLOPT_PROXY_CAINFO_BLOB)
	// for a libcurl that takes none: Apply gives them to it as files
	// (cafile.go).
	caBlobs []caBlob
	err     error // the first setting refused before C sees it; nothing is added after it
}

type caBlob struct {
	opt C.CURLoption
	pem []byte
}

// Reset empties b, values and all, keeping its memory.
func (b *OptionBatch) Reset() {
	clear(b.arena)
	clear(b.ops) // the lists set are the Easy's now
	clear(b.caBlobs)
	b.ops, b.arena, b.caBlobs, b.err = b.ops[:0], b.arena[:0], b.caBlobs[:0], nil
}

// Err returns the first setting refused so far, or nil.
func (b *OptionBatch) Err() error { return b.err }

// batchKinds is libcurl's option table by ID, read once, for the batch's
// checks: an option's number is its type's base (CURLOPTTYPE_*: 0, 10000,
// 20000, 30000, 40000) plus a small index, so a table of five rows answers
// with two array reads. An entry is the option's kind plus one (0: unknown
// here), or batchRefused for one curlpoll owns or a batch may not set.
var batchKinds = sync.OnceValue(func() *[5][1000]int8 {
	var t [5][1000]int8
	for o := range Options() {
		k, ok := o.Kind()
		row, col := int(o)/10000, int(o)%10000
		if !ok || row >= len(t) || col >= len(t[0]) {
			continue
		}
		t[row][col] = int8(k) + 1
		switch _, owned := curlpollOwned[C.CURLoption(o)]; {
		case owned, k == OptionObject, k == OptionCBPtr, k == OptionFunction:
			t[row][col] = batchRefused
		}
	}
	return &t
})

const batchRefused = -1

// check is checkOption for a batch, against the table read once; an
// option the table does not answer for goes to checkOption, for its
// message (or, for one this libcurl lacks, for libcurl's refusal in Apply).
func (b *OptionBatch) check(o Option, want OptionKind) bool {
	if b.err != nil {
		return false
	}
	if row, col := int(o)/10000, int(o)%10000; o >= 0 && row < 5 && col < 1000 {
		if v := batchKinds()[row][col]; v > 0 {
			kind := OptionKind(v - 1)
			if kind == want || want == OptionLong && kind == OptionValues {
				return true
			}
		}
	}
	b.err = checkOption(o, want)
	return b.err == nil
}

func (b *OptionBatch) add(opt C.CURLoption, kind C.int, n int64, at int) {
	b.ops = append(b.ops, C.struct_curlpoll_opt{opt: opt, kind: kind, n: C.longlong(n), at: C.size_t(at)})
}

// checkPostSize refuses what Easy.guardPostSize would have to change: a
// body from SetPostFields (copied with its size) whose size then becomes
// -1, where libcurl would read past the copy
// (libcurlCopyPostUnterminated). CURLOPT_COPYPOSTFIELDS itself is not for
// batches (an object).
func (b *OptionBatch) checkPostSize(n protoNotes) error {
	for _, o := range b.ops {
		switch o.opt {
		case C.CURLOPT_POSTFIELDSIZE, C.CURLOPT_POSTFIELDSIZE_LARGE:
			v := int64(o.n)
			if v > n.postSize {
				n.copyPost = false
			}
			if v == -1 && n.copyPost {
				return errors.New("curlpoll: OptionBatch: CURLOPT_POSTFIELDSIZE -1 after a CURLOPT_COPYPOSTFIELDS body copied with its size: libcurl before 8.6.0 would send the heap past the copy")
			}
			n.postSize = v
		}
	}
	return nil
}

// Long sets a number option (CURLOT_LONG or CURLOT_VALUES), as
// SetOptionLong.
func (b *OptionBatch) Long(o Option, v int64) {
	if b.check(o, OptionLong) {
		b.add(C.CURLoption(o), C.CURLPOLL_OPT_LONG, v, 0)
	}
}

// Bool sets a number option to 1 or 0.
func (b *OptionBatch) Bool(o Option, v bool) {
	var n int64
	if v {
		n = 1
	}
	b.Long(o, n)
}

// Offset sets a curl_off_t option, as SetOptionOffset.
func (b *OptionBatch) Offset(o Option, v int64) {
	if b.check(o, OptionOffset) {
		b.add(C.CURLoption(o), C.CURLPOLL_OPT_OFF, v, 0)
	}
}

// Str sets a string option, as SetOptionString: "" sets NULL, the
// option's default (EmptyStr sets an empty string). A string with a NUL
// byte is refused.
func (b *OptionBatch) Str(o Option, v string) {
	if v == "" {
		if b.check(o, OptionString) {
			b.add(C.CURLoption(o), C.CURLPOLL_OPT_NULL, 0, 0)
		}
		return
	}
	b.StrParts(o, v)
}

// StrParts sets a string option to the concatenation of parts, which saves
// building the string first. An empty concatenation sets an empty string.
func (b *OptionBatch) StrParts(o Option, parts ...string) {
	if !b.check(o, OptionString) {
		return
	}
	for _, s := range parts {
		if b.err = checkCString(s); b.err != nil {
			return
		}
	}
	b.add(C.CURLoption(o), C.CURLPOLL_OPT_STR, 0, len(b.arena))
	for _, s := range parts {
		b.arena = append(b.arena, s...)
	}
	b.arena = append(b.arena, 0)
}

// EmptyStr sets a string option to "", which for some options means other
// than NULL (CURLOPT_NOPROXY: no host bypasses the proxy).
func (b *OptionBatch) EmptyStr(o Option) { b.StrParts(o) }

// Blob sets a blob option, as SetOptionBlob: libcurl copies it, and an
// empty one sets NULL. CURLOPT_CAINFO_BLOB and CURLOPT_PROXY_CAINFO_BLOB
// work where libcurl takes no CA blob (GnuTLS), as SetCAInfoBlob does; a
// client certificate or key where libcurl would ignore it is refused
// (ErrClientCertBlobUnsupported).
func (b *OptionBatch) Blob(o Option, v []byte) {
	if !b.check(o, OptionBlob) {
		return
	}
	opt := C.CURLoption(o)
	if b.err = checkCertBlob(opt, v); b.err != nil {
		return
	}
	switch {
	case (opt == C.CURLOPT_CAINFO_BLOB || opt == C.CURLOPT_PROXY_CAINFO_BLOB) && !caBlobBuiltIn():
		b.caBlobs = append(b.caBlobs, caBlob{opt, v})
	case len(v) == 0:
		b.add(opt, C.CURLPOLL_OPT_NULL, 0, 0)
	default:
		b.add(opt, C.CURLPOLL_OPT_BLOB, int64(len(v)), len(b.arena))
		b.arena = append(b.arena, v...)
	}
}

// List sets a list option (a curl_slist), as SetOptionList, to items;
// ListItem adds more to it.
func (b *OptionBatch) List(o Option, items ...string) {
	if !b.check(o, OptionList) {
		return
	}
	b.add(C.CURLoption(o), C.CURLPOLL_OPT_LIST, 0, len(b.arena))
	for _, it := range items {
		b.ListItem(it)
	}
}

// ListItem adds the concatenation of parts as one item to the list option
// set last (List), which saves building the item first: a header line as
// ListItem(name, ": ", value).
func (b *OptionBatch) ListItem(parts ...string) {
	if b.err != nil {
		return
	}
	if len(b.ops) == 0 || b.ops[len(b.ops)-1].kind != C.CURLPOLL_OPT_LIST {
		b.err = errors.New("curlpoll: OptionBatch.ListItem without a list option before it")
		return
	}
	for _, s := range parts {
		if b.err = checkCString(s); b.err != nil {
			return
		}
	}
	for _, s := range parts {
		b.arena = append(b.arena, s...)
	}
	b.arena = append(b.arena, 0)
	b.ops[len(b.ops)-1].n++
}

// Apply sets b's options on e in one call into libcurl, in b's order. A
// batch that refused a setting (Err) sets nothing and returns that error;
// otherwise the error is that of the first option libcurl refused, naming
// it, with the options before it set. Like every setter, it fails while e
// has a transfer running. b may be reused (Reset) or dropped afterwards.
func (e *Easy) Apply(b *OptionBatch) error {
	if b.err != nil {
		return b.err
	}
	if err := e.idle(); err != nil {
		return err
	}
	if e.notes.copyPost && libcurlCopyPostUnterminated() {
		if err := b.checkPostSize(e.notes); err != nil {
			return err
		}
	}
	if len(b.ops) > 0 {
		var arena *C.char
		if len(b.arena) > 0 {
			arena = (*C.char)(unsafe.Pointer(&b.arena[0]))
		}
		res := C.curlpoll_setopts(e.c, &b.ops[0], C.int(len(b.ops)), arena)
		rc, done := res.rc, res.done
		for i := range b.ops[:done] {
			switch o := &b.ops[i]; o.kind {
			case C.CURLPOLL_OPT_LIST:
				e.keepList(o.opt, *(**C.struct_curl_slist)(unsafe.Pointer(&o.list))) // C memory, kept as an integer
				e.noteList(o.opt, int(o.n))
			case C.CURLPOLL_OPT_LONG, C.CURLPOLL_OPT_OFF:
				e.noteLong(o.opt, int64(o.n))
			case C.CURLPOLL_OPT_STR:
				if notedString(o.opt) {
					e.noteString(o.opt, b.arenaString(int(o.at)), false)
				}
			case C.CURLPOLL_OPT_NULL:
				if notedString(o.opt) {
					e.noteString(o.opt, "", true)
				}
			}
		}
		if rc != C.CURLE_OK {
			return optErr(b.ops[done].opt, rc)
		}
	}
	for _, cb := range b.caBlobs {
		if err := e.setCABlob(cb.opt, cb.pem); err != nil {
			return err
		}
	}
	return nil
}

// arenaString is the NUL-terminated string at offset at of the arena.
func (b *OptionBatch) arenaString(at int) string {
	s := b.arena[at:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}
