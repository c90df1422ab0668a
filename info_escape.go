package curlpoll

// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// InfoID is one of libcurl's CURLINFO_* values, for what Easy has no getter
// for. libcurl encodes the value's type in it: read it with InfoLong,
// InfoOffset, InfoString, InfoFloat or InfoList, whichever matches; the
// others refuse it, and so do all of them for pointer infos (certificate
// chains, TLS sessions, private data), which have typed getters.
type InfoID int

// infoType is the type libcurl encodes in the top bits of a CURLINFO.
func (i InfoID) infoType() int { return int(i) & C.CURLINFO_TYPEMASK }

// The list infos among the CURLINFO_SLIST/CURLINFO_PTR type (they share
// it): the rest are pointers.
var listInfos = map[InfoID]bool{
	C.CURLINFO_SSL_ENGINES: true,
	C.CURLINFO_COOKIELIST:  true,
}

func (i InfoID) check(want int, what string) error {
	if i.infoType() != want || want == C.CURLINFO_SLIST && !listInfos[i] {
		return fmt.Errorf("curlpoll: info %#x is not a %s (its type is %#x)", int(i), what, i.infoType())
	}
	return nil
}

// InfoLong reads a long info (CURLINFO_LONG type) of the last transfer.
func (e *Easy) InfoLong(i InfoID) (int64, error) {
	if err := i.check(C.CURLINFO_LONG, "long"); err != nil {
		return 0, err
	}
	return e.infoLong(C.CURLINFO(i))
}

// InfoOffset reads a curl_off_t info (CURLINFO_OFF_T type).
func (e *Easy) InfoOffset(i InfoID) (int64, error) {
	if err := i.check(C.CURLINFO_OFF_T, "curl_off_t"); err != nil {
		return 0, err
	}
	return e.infoOff(C.CURLINFO(i))
}

// InfoString reads a string info (CURLINFO_STRING type); "" when libcurl
// has none.
func (e *Easy) InfoString(i InfoID) (string, error) {
	if err := i.check(C.CURLINFO_STRING, "string"); err != nil {
		return "", err
	}
	if i == C.CURLINFO_PRIVATE {
		return "", fmt.Errorf("curlpoll: CURLINFO_PRIVATE is curlpoll's")
	}
	return e.infoString(C.CURLINFO(i))
}

// InfoFloat reads a double info (CURLINFO_DOUBLE type).
func (e *Easy) InfoFloat(i InfoID) (float64, error) {
	if err := i.check(C.CURLINFO_DOUBLE, "double"); err != nil {
		return 0, err
	}
	if err := e.idle(); err != nil {
		return 0, err
	}
	var v C.double
	return float64(v), infoErr(C.CURLINFO(i), C.curlpoll_getinfo_double(e.c, C.CURLINFO(i), &v))
}

// InfoList reads a list info (CURLINFO_SSL_ENGINES, CURLINFO_COOKIELIST).
func (e *Easy) InfoList(i InfoID) ([]string, error) {
	if err := i.check(C.CURLINFO_SLIST, "list"); err != nil {
		return nil, err
	}
	if err := e.idle(); err != nil {
		return nil, err
	}
	var l *C.struct_curl_slist
	if err := infoErr(C.CURLINFO(i), C.curlpoll_getinfo_ptr(e.c, C.CURLINFO(i), (*unsafe.Pointer)(unsafe.Pointer(&l)))); err != nil {
		return nil, err
	}
	defer C.curl_slist_free_all(l)
	var out []string
	for p := l; p != nil; p = p.next {
		out = append(out, C.GoString(p.data))
	}
	return out, nil
}

// MultiOption is one of libcurl's multi options (CURLMoption), for those
// Multi has no setter for: set it with Multi.SetOptionLong. libcurl
// encodes the value's kind in it; only numbers can be set this way, the
// callbacks and their data are curlpoll's.
type MultiOption int

// SetOptionLong sets a number option of the multi handle (a CURLMOPT_* of
// the long kind, curl_multi_setopt), on the Multi's driver.
func (m *Multi) SetOptionLong(o MultiOption, v int64) error {
	if kind := int(o) / 10000 * 10000; kind != C.CURLOPTTYPE_LONG {
		return fmt.Errorf("curlpoll: multi option %d is not a number: it is curlpoll's to set", int(o))
	}
	if err := m.setLong(C.CURLMoption(o), int(v)); err != nil {
		return fmt.Errorf("curlpoll: setting multi option %d: %w", int(o), err)
	}
	return nil
}
