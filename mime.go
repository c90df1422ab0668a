package curlpoll

/*
#include "shim.h"

CURLcode curlpoll_mime_reader(curl_mimepart *part, curl_off_t size, uintptr_t h);
CURLcode curlpoll_mime_bytes(curl_mimepart *part, const char *data, size_t n);
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
	"unsafe"
)

// MIME is a multipart body: an HTTP multipart/form-data POST, or the parts
// of an SMTP or IMAP mail (libcurl's curl_mime). It is a description in Go
// memory, built with AddBytes, AddFile and AddReader; Easy.SetMIMEPost
// turns it into libcurl's form, which the Easy owns. A MIME is not for
// concurrent use while it is being built.
type MIME struct {
	parts []*MIMEPart
}

// MIMEPart is one part of a MIME body; its setters return the part, for
// chaining.
type MIMEPart struct {
	name        string
	filename    string
	filenameSet bool
	contentType string
	headers     []string

	data []byte
	path string
	r    io.Reader
	size int64
}

// NewMIME returns an empty multipart body.
func NewMIME() *MIME { return &MIME{} }

// AddBytes adds a part whose content is data, copied by SetMIMEPost
// (curl_mime_data). name is the form field's name, "" for none.
func (m *MIME) AddBytes(name string, data []byte) *MIMEPart {
	return m.add(&MIMEPart{name: name, data: data, size: int64(len(data))})
}

// AddFile adds a part whose content libcurl reads from the file at path
// while sending (curl_mime_filedata); its filename is the file's base name
// unless SetFilename says otherwise. SetMIMEPost fails if the file cannot be
// read.
func (m *MIME) AddFile(name, path string) *MIMEPart {
	return m.add(&MIMEPart{name: name, path: path})
}

// AddReader adds a part whose content is read from r while the transfer
// runs (curl_mime_data_cb). size is the content's length, or -1 if unknown
// (an HTTP body is then sent chunked). r is read on a goroutine of the
// transfer, never inside libcurl: a reader with nothing to give holds up
// only its own transfer, which libcurl pauses (CURL_READFUNC_PAUSE) until
// data comes. A reader that ends before size bytes, or gives more, fails the
// transfer. r is read once: the Easy refuses to send the form again once a
// transfer has read from it (set a new one with SetMIMEPost), and libcurl
// cannot rewind such a part (a redirect that resends the body, an
// authentication retry) once it has begun. A Read in progress when the
// transfer ends is not interrupted: close a reader that may block for long
// once the transfer is over, as with Easy.SetReader.
func (m *MIME) AddReader(name string, r io.Reader, size int64) *MIMEPart {
	if size < 0 {
		size = -1
	}
	return m.add(&MIMEPart{name: name, r: r, size: size})
}

func (m *MIME) add(p *MIMEPart) *MIMEPart {
	m.parts = append(m.parts, p)
	return p
}

// SetFilename sets the part's filename, sent in its Content-Disposition
// (curl_mime_filename); "" sends none, also for a file part.
func (p *MIMEPart) SetFilename(name string) *MIMEPart {
	p.filename, p.filenameSet = name, true
	return p
}

// SetContentType sets the part's Content-Type (curl_mime_type).
func (p *MIMEPart) SetContentType(ct string) *MIMEPart {
	p.contentType = ct
	return p
}

// SetHeaders sets extra header lines of the part, "Name: value" each
// (curl_mime_headers).
func (p *MIMEPart) SetHeaders(lines []string) *MIMEPart {
	p.headers = lines
	return p
}

// mimeState is the curl_mime an Easy has set as CURLOPT_MIMEPOST, with the
// feeds of its reader parts; freed by freeMIME.
type mimeState struct {
	c     *C.curl_mime
	feeds []*mimeFeed
}

// mimeFeed connects a reader part to libcurl. Its queue and flags are
// guarded by the running transfer's mu, so that the read callback's pause
// and the pump's resume see one state (as onRead and pump do).
type mimeFeed struct {
	h    cgo.Handle // the read and seek callbacks' data
	e    *Easy
	name string
	r    io.Reader
	size int64
	used atomic.Bool // a transfer has started reading r

	q       byteQueue
	eof     bool
	err     error
	started bool
	space   chan struct{} // cap 1: room in q for the pump
}

// SetMIMEPost sets a multipart body (CURLOPT_MIMEPOST): for HTTP a POST of
// multipart/form-data, for SMTP and IMAP the mail's parts. The Easy builds
// libcurl's form from m (byte parts copied, file parts checked) and keeps it
// until SetMIMEPost is called again, Reset or Close (curl_mime_free); nil
// removes it. Names, filenames, content types and header lines with a CR,
// LF or NUL are refused.
func (e *Easy) SetMIMEPost(m *MIME) error {
	if err := e.idle(); err != nil {
		return err
	}
	var st *mimeState
	if m != nil {
		var err error
		if st, err = e.buildMIME(m); err != nil {
			return err
		}
	}
	var p unsafe.Pointer
	if st != nil {
		p = unsafe.Pointer(st.c)
	}
	if err := optErr(C.CURLOPT_MIMEPOST, C.curlpoll_setopt_ptr(e.c, C.CURLOPT_MIMEPOST, p)); err != nil {
		st.free()
		return err
	}
	e.freeMIME()
	e.mime = st
	return nil
}

func (e *Easy) buildMIME(m *MIME) (*mimeState, error) {
	for _, p := range m.parts {
		if err := p.check(); err != nil {
			return nil, err
		}
	}
	st := &mimeState{c: C.curl_mime_init(e.c)}
	if st.c == nil {
		return nil, ErrOutOfMemory
	}
	for _, p := range m.parts {
		if err := st.addPart(e, p); err != nil {
			st.free()
			return nil, err
		}
	}
	return st, nil
}

func (p *MIMEPart) check() error {
	for what, s := range map[string]string{"MIME part name": p.name, "MIME filename": p.filename, "MIME content type": p.contentType, "MIME file path": p.path} {
		if err := checkLine(what, s); err != nil {
			return err
		}
	}
	for _, h := range p.headers {
		if err := checkLine("MIME part header", h); err != nil {
			return err
		}
	}
	if p.path != "" {
		f, err := os.Open(p.path)
		if err != nil {
			return fmt.Errorf("curlpoll: MIME part %q: %w", p.name, err)
		}
		f.Close()
	}
	return nil
}

// addPart adds p to the form; on failure the caller frees the form.
func (st *mimeState) addPart(e *Easy, p *MIMEPart) error {
	part := C.curl_mime_addpart(st.c)
	if part == nil {
		return ErrOutOfMemory
	}
	fail := func(what string, rc C.CURLcode) error {
		if rc == C.CURLE_OK {
			return nil
		}
		return fmt.Errorf("curlpoll: MIME part %q: %s: %w", p.name, what, Code(rc))
	}
	withC := func(s string, f func(*C.char) C.CURLcode) C.CURLcode {
		if s == "" {
			return f(nil)
		}
		cs := C.CString(s)
		defer C.free(unsafe.Pointer(cs))
		return f(cs)
	}
	var err error
	switch {
	case p.path != "":
		err = fail("file", withC(p.path, func(s *C.char) C.CURLcode { return C.curl_mime_filedata(part, s) }))
	case p.r != nil:
		f := &mimeFeed{e: e, name: p.name, r: p.r, size: p.size, space: make(chan struct{}, 1)}
		f.h = newHandle(f)
		st.feeds = append(st.feeds, f)
		err = fail("reader", C.curlpoll_mime_reader(part, C.curl_off_t(p.size), C.uintptr_t(f.h)))
	default:
		var ptr *C.char
		if len(p.data) > 0 {
			ptr = (*C.char)(unsafe.Pointer(&p.data[0])) // copied by curl_mime_data
		}
		err = fail("data", C.curlpoll_mime_bytes(part, ptr, C.size_t(len(p.data))))
	}
	if err == nil && p.name != "" {
		err = fail("name", withC(p.name, func(s *C.char) C.CURLcode { return C.curl_mime_name(part, s) }))
	}
	if err == nil && p.filenameSet {
		err = fail("filename", withC(p.filename, func(s *C.char) C.CURLcode { return C.curl_mime_filename(part, s) }))
	}
	if err == nil && p.contentType != "" {
		err = fail("content type", withC(p.contentType, func(s *C.char) C.CURLcode { return C.curl_mime_type(part, s) }))
	}
	if err == nil && len(p.headers) > 0 {
		l, lerr := newSlist(p.headers)
		if lerr != nil {
			return lerr
		}
		// take_ownership: the part frees the list, also on failure.
		err = fail("headers", C.curl_mime_headers(part, l, 1))
	}
	return err
}

// free frees the form and the feeds' handles. libcurl must not use it any
// more: it is not, or no longer, the Easy's CURLOPT_MIMEPOST, or the easy
// handle has been reset or cleaned up.
func (st *mimeState) free() {
	if st == nil {
		return
	}
	C.curl_mime_free(st.c)
	st.c = nil
	for _, f := range st.feeds {
		deleteHandle(f.h)
	}
	st.feeds = nil
}

// unpause resumes sending on c, whose form a reader part paused. libcurl
// keeps a part's CURL_READFUNC_PAUSE and answers every later read with it,
// without calling the part's callback, until curl_easy_pause lifts a send
// pause it has recorded (Curl_mime_unpause): a resume that finds no pause
// recorded is a no-op that leaves the part paused for good (libcurl 7.88,
// an HTTP POST on a reused connection). Pausing sending first makes the
// resume a change libcurl acts on.
func (st *mimeState) unpause(c unsafe.Pointer, mask C.int, ms *C.struct_curlpoll_multi) {
	C.curlpoll_easy_pause(c, mask|C.CURLPAUSE_SEND, ms)
	C.curlpoll_easy_pause(c, mask, ms)
}

// freeMIME frees the Easy's form; the caller has unset it in libcurl
// (SetMIMEPost, curl_easy_reset, curl_easy_cleanup).
func (e *Easy) freeMIME() {
	e.mime.free()
	e.mime = nil
}

// ErrMIMEReaderUsed is the error of a transfer whose form (SetMIMEPost) has
// a reader part that an earlier transfer read from: it cannot be sent again.
var ErrMIMEReaderUsed = errors.New("curlpoll: a MIME reader part was read by an earlier transfer: set the form again (SetMIMEPost) with a new reader")

// checkMIME refuses a transfer whose form would send a reader part again.
func (e *Easy) checkMIME() error {
	if e.mime == nil {
		return nil
	}
	for _, f := range e.mime.feeds {
		if f.used.Load() {
			return fmt.Errorf("%w (part %q)", ErrMIMEReaderUsed, f.name)
		}
	}
	return nil
}

//export goMIMERead
func goMIMERead(h C.uintptr_t, p *C.char, n C.size_t) (ret C.size_t) {
	f, _ := cgo.Handle(h).Value().(*mimeFeed)
	if f == nil {
		return C.CURL_READFUNC_ABORT
	}
	t := f.e.cur
	if t == nil {
		return C.CURL_READFUNC_ABORT
	}
	t.m.stats.callbacks++
	ret = C.CURL_READFUNC_ABORT
	defer t.failOnPanic()
	return t.onMIMERead(f, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// goMIMESeek is a reader part's seek callback: libcurl rewinds a part that
// has begun when it sends the body again. Only a reader not yet read from
// can be rewound, to its start.
//
//export goMIMESeek
func goMIMESeek(h C.uintptr_t, offset C.curl_off_t, origin C.int) C.int {
	f, _ := cgo.Handle(h).Value().(*mimeFeed)
	if f == nil || origin != 0 || offset != 0 || f.used.Load() {
		return C.CURL_SEEKFUNC_CANTSEEK
	}
	return C.CURL_SEEKFUNC_OK
}

// onMIMERead is a reader part's read callback: hand libcurl the bytes the
// part's pump has queued, or pause the transfer until it has some. The
// first call starts the pump.
func (t *xfer) onMIMERead(f *mimeFeed, p []byte) C.size_t {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !f.started {
		f.started = true
		f.used.Store(true)
		go f.pump(t, t.m, t.gen, t.doneChanLocked())
	}
	switch {
	case f.q.Len() > 0:
		t.moved()
		n := f.q.Read(p)
		signal(f.space)
		return C.size_t(n)
	case f.eof:
		return 0
	case f.err != nil:
		t.cause = f.err
		return C.CURL_READFUNC_ABORT
	}
	t.sendPaused = true
	return C.CURL_READFUNC_PAUSE
}

// pump reads the part's reader on its own goroutine, as Transfer.pump reads
// a request body, and wakes the transfer when libcurl paused it for want of
// data. It stops at the reader's end or error, or when the transfer ends.
func (f *mimeFeed) pump(t *xfer, m *Multi, gen uint64, done chan struct{}) {
	bp := pumpBufs.Get().(*[sendChunk]byte)
	defer pumpBufs.Put(bp)
	buf := bp[:]
	var total int64
	for {
		t.mu.Lock()
		for f.q.Len() >= sendHighWater && !t.done && t.gen == gen {
			t.mu.Unlock()
			select {
			case <-f.space:
			case <-done:
			}
			t.mu.Lock()
		}
		stop := t.done || t.gen != gen
		t.mu.Unlock()
		if stop {
			return
		}

		n, err := f.read(buf)
		total += int64(n)
		if f.size >= 0 && (total > f.size || err == io.EOF && total < f.size) {
			err = fmt.Errorf("curlpoll: MIME part %q: the reader gave %d bytes or more, not the %d bytes of its size", f.name, total, f.size)
			n = 0
		}

		t.mu.Lock()
		if t.done || t.gen != gen {
			t.mu.Unlock()
			return
		}
		f.q.Write(buf[:n])
		switch {
		case err == io.EOF:
			f.eof = true
		case err != nil:
			f.err = err
		}
		resume := t.sendPaused && !t.sendQueued && (f.q.Len() > 0 || err != nil)
		t.sendQueued = t.sendQueued || resume
		t.mu.Unlock()
		if resume {
			m.post(work{op: opResumeSend, t: t, tgen: gen})
		}
		if err != nil {
			if err != io.EOF {
				// Stop the transfer with the reader's error without waiting
				// for libcurl to ask for data again: libcurl 8.14 does not
				// always call a paused MIME part's read function again when
				// it is resumed (the transfer then waited to its deadline).
				t.abort(gen, &Error{Code: ErrAbortedByCallback, Err: err})
			}
			return
		}
	}
}

// read is one Read of the part's reader, with a panic turned into an error.
func (f *mimeFeed) read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	n, err = f.r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("curlpoll: MIME part %q: Read returned %d for a buffer of %d", f.name, n, len(p))
	}
	if errors.Is(err, io.EOF) {
		err = io.EOF
	}
	return n, err
}
