package curlpoll

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// ShareData is a kind of data a Share holds for its transfers.
type ShareData uint

// Kinds of shared data.
const (
	ShareCookies     ShareData = 1 << C.CURL_LOCK_DATA_COOKIE      // the cookie engine (CURL_LOCK_DATA_COOKIE)
	ShareDNS         ShareData = 1 << C.CURL_LOCK_DATA_DNS         // the DNS cache (CURL_LOCK_DATA_DNS)
	ShareSSLSessions ShareData = 1 << C.CURL_LOCK_DATA_SSL_SESSION // TLS sessions, for resumption (CURL_LOCK_DATA_SSL_SESSION)
	ShareConnections ShareData = 1 << C.CURL_LOCK_DATA_CONNECT     // the connection pool (CURL_LOCK_DATA_CONNECT)
	SharePSL         ShareData = 1 << C.CURL_LOCK_DATA_PSL         // the public suffix list (CURL_LOCK_DATA_PSL)
	ShareHSTS        ShareData = 1 << C.CURL_LOCK_DATA_HSTS        // the HSTS cache (CURL_LOCK_DATA_HSTS, libcurl 7.88.0)
)

// A Share holds data (cookies, the DNS cache, TLS sessions, ...) for the
// transfers of every Easy that uses it (Easy.SetShare), on one Multi or
// several (curl_share_init). The transfers of one Multi already share its
// connections, DNS cache and TLS sessions without one; a Share is for
// cookies across handles, and for DNS or sessions across Multis. It is safe
// for concurrent use: its data is locked while a transfer uses it.
//
// Close it once no Easy uses it any more.
type Share struct {
	// mu guards s.
	mu   sync.Mutex
	s    *C.struct_curlpoll_share
	what ShareData // NewShare's
}

// NewShare makes a Share of the kinds of data in what.
func NewShare(what ShareData) (*Share, error) {
	if err := globalInit(); err != nil {
		return nil, err
	}
	var rc C.CURLSHcode
	s := C.curlpoll_share_new(C.uint(what), 1, &rc)
	if s == nil {
		return nil, shareErr(rc)
	}
	return &Share{s: s, what: what}, nil
}

// ErrShareInUse is the error of closing a Share that an Easy still uses:
// close the Easy, Reset it, or SetShare(nil) first.
var ErrShareInUse = errors.New("curlpoll: the share is in use by an easy handle")

// Close frees the share handle (curl_share_cleanup). It fails with
// ErrShareInUse while an Easy still uses it; closing again does nothing.
func (s *Share) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return nil
	}
	switch rc := C.curlpoll_share_free(s.s); rc {
	case C.CURLSHE_OK:
		s.s = nil
		return nil
	case C.CURLSHE_IN_USE:
		return ErrShareInUse
	default:
		return shareErr(rc)
	}
}

func shareErr(rc C.CURLSHcode) error {
	return fmt.Errorf("curlpoll: share: %s (CURLSHcode %d)", C.GoString(C.curl_share_strerror(rc)), int(rc))
}

// SetShare makes the Easy use s's data (CURLOPT_SHARE); nil stops it.
// Reset and Close stop it too.
func (e *Easy) SetShare(s *Share) error {
	if err := e.idle(); err != nil {
		return err
	}
	var sh unsafe.Pointer
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.s == nil {
			return fmt.Errorf("curlpoll: SetShare: %w", ErrClosed)
		}
		sh = unsafe.Pointer(s.s.sh)
	}
	if err := optErr(C.CURLOPT_SHARE, C.curlpoll_setopt_ptr(e.c, C.CURLOPT_SHARE, sh)); err != nil {
		return err
	}
	e.share = s
	return nil
}

// multiShare is a Multi's own share of TLS sessions, where libcurl keeps
// them per easy handle (before 8.12.0, which keeps them per multi handle):
// without it a second Easy on the Multi would not resume the first one's
// sessions. Only the Multi's driver uses it, so it needs no locks; it is
// set on each transfer's handle as it is added and unset as it is removed
// (libcurlSessionsPerEasy).
func newMultiShare() (*C.struct_curlpoll_share, error) {
	var rc C.CURLSHcode
	s := C.curlpoll_share_new(C.uint(ShareSSLSessions), 0, &rc)
	if s == nil {
		return nil, shareErr(rc)
	}
	return s, nil
}
