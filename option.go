package curlpoll

/*
#include "shim.h"

// curlpoll_option_by_id looks an easy option up in libcurl's option table
// (curl_easy_option_by_id, 7.73.0): 1 and its type and flags if known.
static int curlpoll_option_by_id(CURLoption id, int *type, unsigned *flags, const char **name) {
	const struct curl_easyoption *o = curl_easy_option_by_id(id);
	if (o == NULL)
		return 0;
	*type = (int)o->type;
	*flags = o->flags;
	*name = o->name;
	return 1;
}

static int curlpoll_option_by_name(const char *name, CURLoption *id) {
	const struct curl_easyoption *o = curl_easy_option_by_name(name);
	if (o == NULL)
		return 0;
	*id = o->id;
	return 1;
}

// curlpoll_option_next walks libcurl's option table: the first entry after
// *cursor (NULL for the first), 0 at its end.
static int curlpoll_option_next(const struct curl_easyoption **cursor, CURLoption *id) {
	const struct curl_easyoption *o = curl_easy_option_next(*cursor);
	if (o == NULL)
		return 0;
	*cursor = o;
	*id = o->id;
	return 1;
}
*/
import "C"

import (
	"fmt"
	"iter"
	"strings"
	"unsafe"
)

// Option is one of libcurl's easy options (CURLoption), for the options
// that Easy has no setter for: set it with SetOptionLong, SetOptionOffset,
// SetOptionString, SetOptionBlob or SetOptionList, whichever matches its
// kind in libcurl's own option table. Its value is libcurl's CURLOPT_*
// number; OptionByName finds it by name.
//
// The escape hatch is checked: an option of another kind, and every
// callback, pointer and private-data option (those are curlpoll's to set),
// are refused with an error that names the option, before libcurl sees
// anything.
type Option int

// OptionKind is the kind of an option's value, from libcurl's option table
// (CURLOT_*).
type OptionKind int

// The kinds of options. Only the first five can be set by an escape hatch.
const (
	OptionLong     OptionKind = C.CURLOT_LONG     // a number: SetOptionLong
	OptionValues   OptionKind = C.CURLOT_VALUES   // a number from a set or a bitmask: SetOptionLong
	OptionOffset   OptionKind = C.CURLOT_OFF_T    // a curl_off_t: SetOptionOffset
	OptionString   OptionKind = C.CURLOT_STRING   // a string libcurl copies: SetOptionString
	OptionList     OptionKind = C.CURLOT_SLIST    // a list of strings: SetOptionList
	OptionBlob     OptionKind = C.CURLOT_BLOB     // bytes libcurl copies: SetOptionBlob
	OptionObject   OptionKind = C.CURLOT_OBJECT   // a pointer: curlpoll's, or a typed setter's
	OptionCBPtr    OptionKind = C.CURLOT_CBPTR    // a callback's data: curlpoll's
	OptionFunction OptionKind = C.CURLOT_FUNCTION // a callback: curlpoll's
)

func (k OptionKind) String() string {
	switch k {
	case OptionLong:
		return "long"
	case OptionValues:
		return "long (values)"
	case OptionOffset:
		return "off_t"
	case OptionString:
		return "string"
	case OptionList:
		return "list"
	case OptionBlob:
		return "blob"
	case OptionObject:
		return "pointer"
	case OptionCBPtr:
		return "callback data"
	case OptionFunction:
		return "function"
	}
	return fmt.Sprintf("OptionKind(%d)", int(k))
}

// curlpollOwned are options of settable kinds that curlpoll relies on: set
// through the escape hatch they would break what Easy, Multi and Transfer
// promise (bodies through Transfer, no output to stderr, no signals, the
// debug and progress plumbing). Typed setters cover what a caller may want
// of them.
var curlpollOwned = map[C.CURLoption]string{
	C.CURLOPT_NOSIGNAL:     "curlpoll runs every transfer with it (signals would hit Go's threads)",
	C.CURLOPT_NOPROGRESS:   "use SetProgressFunc",
	C.CURLOPT_VERBOSE:      "use SetVerbose, SetDebugFunc or SetLogger",
	C.CURLOPT_HEADER:       "headers come through Transfer.Header and SetHeaderFunc, not the body",
	C.CURLOPT_CONNECT_ONLY: "curlpoll has no API for a connection without a transfer",
}

// Name returns the option's name in libcurl's option table, without the
// CURLOPT_ prefix ("SSL_VERIFYPEER"), or its number for an option this
// libcurl does not know.
func (o Option) Name() string {
	if name, _, _, ok := o.lookup(); ok {
		return name
	}
	return fmt.Sprintf("option %d", int(o))
}

// Kind returns the kind of the option's value, from libcurl's option
// table; false if this libcurl does not know the option.
func (o Option) Kind() (OptionKind, bool) {
	_, kind, _, ok := o.lookup()
	return kind, ok
}

func (o Option) String() string {
	if name, _, _, ok := o.lookup(); ok {
		return "CURLOPT_" + name
	}
	return fmt.Sprintf("option %d", int(o))
}

func (o Option) lookup() (name string, kind OptionKind, alias bool, ok bool) {
	var typ C.int
	var flags C.uint
	var cname *C.char
	if C.curlpoll_option_by_id(C.CURLoption(o), &typ, &flags, &cname) == 0 {
		return "", 0, false, false
	}
	return C.GoString(cname), OptionKind(typ), flags&C.CURLOT_FLAG_ALIAS != 0, true
}

// OptionByName returns the option named name in libcurl's option table
// (curl_easy_option_by_name), with or without the CURLOPT_ prefix and in
// any case: "SSL_VERIFYPEER", "CURLOPT_ssl_verifypeer".
func OptionByName(name string) (Option, error) {
	n := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(name), "CURLOPT_"))
	if err := checkCString(n); err != nil {
		return 0, err
	}
	cs := C.CString(n)
	defer C.free(unsafe.Pointer(cs))
	var id C.CURLoption
	if C.curlpoll_option_by_name(cs, &id) == 0 {
		return 0, fmt.Errorf("curlpoll: libcurl %s has no option %q", Version().Version, name)
	}
	return Option(id), nil
}

// Options lists every option in libcurl's option table (aliases of other
// options left out), in the table's order.
func Options() iter.Seq[Option] {
	return func(yield func(Option) bool) {
		var cursor *C.struct_curl_easyoption
		var id C.CURLoption
		for C.curlpoll_option_next(&cursor, &id) != 0 {
			if cursor.flags&C.CURLOT_FLAG_ALIAS != 0 {
				continue
			}
			if !yield(Option(id)) {
				return
			}
		}
	}
}

// checkOption refuses to set o as a value of kind want (or, for
// OptionLong, OptionValues too) through an escape hatch.
func checkOption(o Option, want OptionKind) error {
	name, kind, _, ok := o.lookup()
	if !ok {
		return nil // libcurl will say CURLE_UNKNOWN_OPTION
	}
	if why, owned := curlpollOwned[C.CURLoption(o)]; owned {
		return fmt.Errorf("curlpoll: CURLOPT_%s is curlpoll's to set: %s", name, why)
	}
	switch kind {
	case OptionObject, OptionCBPtr, OptionFunction:
		return fmt.Errorf("curlpoll: CURLOPT_%s takes a %s, which is curlpoll's to set (or a typed setter's)", name, kind)
	}
	if kind == want || want == OptionLong && kind == OptionValues {
		return nil
	}
	return fmt.Errorf("curlpoll: CURLOPT_%s takes a %s, not a %s", name, kind, want)
}

// SetOptionLong sets a number option (CURLOT_LONG or CURLOT_VALUES) that
// Easy has no setter for. It refuses options of other kinds and those
// curlpoll sets itself; libcurl's refusal names the option.
func (e *Easy) SetOptionLong(o Option, v int64) error {
	if err := checkOption(o, OptionLong); err != nil {
		return err
	}
	return e.setLong(C.CURLoption(o), v)
}

// SetOptionOffset sets a curl_off_t option (CURLOT_OFF_T), as
// SetOptionLong.
func (e *Easy) SetOptionOffset(o Option, v int64) error {
	if err := checkOption(o, OptionOffset); err != nil {
		return err
	}
	return e.setOff(C.CURLoption(o), v)
}

// SetOptionString sets a string option (CURLOT_STRING), as SetOptionLong;
// libcurl copies the string, and "" sets NULL, the option's default.
func (e *Easy) SetOptionString(o Option, v string) error {
	if err := checkOption(o, OptionString); err != nil {
		return err
	}
	return e.setString(C.CURLoption(o), v)
}

// SetOptionBlob sets a blob option (CURLOT_BLOB), as SetOptionLong;
// libcurl copies the bytes, and nil unsets it.
func (e *Easy) SetOptionBlob(o Option, v []byte) error {
	if err := checkOption(o, OptionBlob); err != nil {
		return err
	}
	if err := checkCertBlob(C.CURLoption(o), v); err != nil {
		return err
	}
	return e.setBlob(C.CURLoption(o), v)
}

// checkCertBlob refuses a client certificate or key from memory where
// libcurl's TLS library would ignore it (libcurlTakesCertBlobs): a security
// setting is honoured or refused, never dropped.
func checkCertBlob(opt C.CURLoption, v []byte) error {
	switch opt {
	case C.CURLOPT_SSLCERT_BLOB, C.CURLOPT_SSLKEY_BLOB, C.CURLOPT_PROXY_SSLCERT_BLOB, C.CURLOPT_PROXY_SSLKEY_BLOB:
		if len(v) > 0 && !libcurlTakesCertBlobs() {
			return ErrClientCertBlobUnsupported
		}
	}
	return nil
}

// SetOptionList sets a list option (CURLOT_SLIST), as SetOptionLong; the
// Easy keeps the list libcurl points to until it is replaced, Reset or
// Close. nil unsets it.
func (e *Easy) SetOptionList(o Option, v []string) error {
	if err := checkOption(o, OptionList); err != nil {
		return err
	}
	if v == nil {
		if err := e.idle(); err != nil {
			return err
		}
		if err := optErr(C.CURLoption(o), C.curlpoll_setopt_ptr(e.c, C.CURLoption(o), nil)); err != nil {
			return err
		}
		e.keepList(C.CURLoption(o), nil)
		e.noteList(C.CURLoption(o), 0)
		return nil
	}
	return e.setList(C.CURLoption(o), v)
}
