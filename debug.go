package curlpoll

// #include "shim.h"
import "C"

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// DebugKind is the kind of what libcurl's debug callback reports.
type DebugKind int

const (
	DebugText      DebugKind = iota // libcurl's informational text (CURLINFO_TEXT)
	DebugHeaderIn                   // a received header line (CURLINFO_HEADER_IN)
	DebugHeaderOut                  // the sent request header block (CURLINFO_HEADER_OUT)
)

// String returns the kind's name: "text", "header-in" or "header-out".
func (k DebugKind) String() string {
	switch k {
	case DebugText:
		return "text"
	case DebugHeaderIn:
		return "header-in"
	case DebugHeaderOut:
		return "header-out"
	}
	return "unknown"
}

// debugFunc receives libcurl's verbose output for transfer t; it runs on
// the driver, inside libcurl, and data is valid only during the call.
type debugFunc func(t *Transfer, kind DebugKind, data []byte)

// SetDebugFunc turns on libcurl's verbose output (CURLOPT_VERBOSE) and sends
// it to f (CURLOPT_DEBUGFUNCTION) instead of stderr: informational text and
// the header blocks sent and received. Body bytes and TLS records are not
// passed on. nil turns verbose output off. f runs on a goroutine of the
// transfer, never inside libcurl, in order, with copies it may keep: one
// that blocks holds up only its own transfer's Do or Close, which wait for
// its last call. Past maxDebugBacklog records waiting for a slow f, records
// are dropped and one text record says how many. A panic in f fails the
// transfer. SetDebugFunc replaces SetLogger.
func (e *Easy) SetDebugFunc(f func(kind DebugKind, data []byte)) error {
	if f == nil {
		return e.setUserDebug(nil)
	}
	return e.setUserDebug(func(_ *Transfer, kind DebugKind, data []byte) { f(kind, data) })
}

// maxDebugBacklog bounds the debug records waiting for a slow debug
// function or logger.
const maxDebugBacklog = 4096

// debugRecord is one call of libcurl's debug callback, kept for runHooks.
type debugRecord struct {
	kind DebugKind
	data []byte
}

// setUserDebug sets a debug function of the user's, run by runHooks; the
// callback inside libcurl only queues copies.
func (e *Easy) setUserDebug(f debugFunc) error {
	if f == nil {
		if err := e.setDebug(nil); err != nil {
			return err
		}
		e.debugUser = nil
		return nil
	}
	if err := e.setDebug(queueDebug); err != nil {
		return err
	}
	e.debugUser = f
	return nil
}

// queueDebug is the debug function, inside libcurl, for a user's one.
func queueDebug(pub *Transfer, kind DebugKind, data []byte) {
	t := pub.s
	t.mu.Lock()
	if len(t.hookDebug) < maxDebugBacklog {
		t.hookDebug = append(t.hookDebug, debugRecord{kind, bytes.Clone(data)})
	} else {
		t.debugDropped++
	}
	t.queueHooksLocked()
	t.mu.Unlock()
}

// SetLogger sends libcurl's verbose output to l, one record per line at
// slog.LevelDebug, with the attributes "transfer" (the Transfer's ID) and
// "kind" (a DebugKind's name). The values of Authorization,
// Proxy-Authorization, Cookie and Set-Cookie headers are replaced by
// "[redacted]", in header blocks and in libcurl's text alike. nil turns
// verbose output off; without a logger (or a debug function) libcurl is
// never verbose, and nothing goes to stderr.
//
// The records are written on a goroutine of the transfer, as for
// SetDebugFunc: a handler that blocks holds up only its own transfer.
// SetLogger replaces SetDebugFunc.
func (e *Easy) SetLogger(l *slog.Logger) error {
	if l == nil {
		return e.setUserDebug(nil)
	}
	return e.setUserDebug(func(t *Transfer, kind DebugKind, data []byte) {
		LogDebug(l, t.id, kind, data)
	})
}

func (e *Easy) setDebug(f debugFunc) error {
	if err := e.idle(); err != nil {
		return err
	}
	on := C.int(0)
	if f != nil {
		on = 1
	}
	if err := optErr(C.CURLOPT_DEBUGFUNCTION, C.curlpoll_set_debug(e.c, on)); err != nil {
		return err
	}
	e.debugFunc = f
	return nil
}

// transferIDs numbers transfers, for logs and traces.
var transferIDs atomic.Uint64

// ID returns the transfer's number: unique in the process, increasing in the
// order transfers were started. Log records carry it.
func (t *Transfer) ID() uint64 { return t.id }

// Info returns the transfer's timings, addresses and connection reuse, read
// from libcurl when it ended; false while it runs. A transfer stopped before
// it connected has zero addresses.
func (t *Transfer) Info() (TransferInfo, bool) {
	if t.do {
		return TransferInfo{}, false
	}
	t.s.mu.Lock()
	over := t.overLocked()
	t.s.mu.Unlock()
	if !over {
		return TransferInfo{}, false
	}
	// Converted on each call: most transfers are never asked, and a copy
	// kept in the handle would make every Start allocate more.
	info, _ := transferInfo(&t.cinfo)
	return info, true
}

// LogDebug writes what a debug function got for a transfer to l as
// SetLogger does: one record per line at slog.LevelDebug, with the
// attributes "transfer" (the Transfer's ID) and "kind", credentials
// redacted (RedactLine). For a debug function that logs besides other work
// (SetDebugFunc, SetInlineDebugFunc).
func LogDebug(l *slog.Logger, id uint64, kind DebugKind, data []byte) {
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	for line := range bytes.Lines(data) {
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			continue
		}
		l.LogAttrs(ctx, slog.LevelDebug, RedactLine(s),
			slog.Uint64("transfer", id), slog.String("kind", kind.String()))
	}
}

// redactedFields are the header fields whose values logs never show: the
// credentials a request sends (Authorization, Proxy-Authorization, Cookie)
// and the session cookies a response sets (Set-Cookie), which are
// credentials too.
var redactedFields = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// RedactLine returns a line of libcurl's verbose output with the values of
// the Authorization, Proxy-Authorization, Cookie and Set-Cookie fields
// replaced by "[redacted]": in a header line ("Cookie: a=b") and in the
// bracketed header that libcurl's HTTP/2 text shows ("h2h3 [cookie: a=b]",
// "[HTTP/2] [1] [cookie: a=b]").
func RedactLine(line string) string {
	if name, _, ok := strings.Cut(line, ":"); ok && isRedacted(strings.TrimSpace(name)) {
		return name + ": [redacted]"
	}
	// "[name: value]" in text; the value runs to the last ']' of the line.
	for i := strings.IndexByte(line, '['); i >= 0; {
		rest := line[i+1:]
		name, _, ok := strings.Cut(rest, ": ")
		if ok && isRedacted(name) {
			end := strings.LastIndexByte(line, ']')
			if end <= i {
				end = len(line)
			}
			return line[:i+1] + name + ": [redacted]" + line[end:]
		}
		j := strings.IndexByte(rest, '[')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return line
}

func isRedacted(name string) bool {
	for _, f := range redactedFields {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}
