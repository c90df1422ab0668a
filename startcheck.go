package curlpoll

// #include "shim.h"
import "C"

import (
	"errors"
	"strings"
)

// ErrNoRecipients is the error of an SMTP mail (a transfer with SetUpload or
// SetMIMEPost on an smtp:// or smtps:// URL) without SetMailRecipients,
// returned before connecting: libcurl would send EHLO and HELP and report
// success, with no mail sent.
var ErrNoRecipients = errors.New("curlpoll: SMTP mail without recipients (SetMailRecipients): nothing sent")

// InputError is the error of an option value that curlpoll refuses before
// libcurl sees it, because libcurl would send it in a way the caller did not
// mean (a CR or LF inside a command line) or fail only later.
type InputError struct {
	What   string // the setting, such as "mail recipient"
	Value  string
	Reason string
}

func (e *InputError) Error() string {
	if e.Value == "" {
		return "curlpoll: " + e.What + " " + e.Reason
	}
	return "curlpoll: " + e.What + " " + quoteShort(e.Value) + " " + e.Reason
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(`"`+s+`"`, "\r", `\r`), "\n", `\n`), "\x00", `\x00`)
}

// protoNotes is what an Easy remembers of the options that decide whether a
// transfer may start (checkStart), and of those that renew must carry over
// by hand; Reset clears it.
type protoNotes struct {
	url         string // CURLOPT_URL
	defaultProt string // CURLOPT_DEFAULT_PROTOCOL
	upload      bool   // CURLOPT_UPLOAD
	mailRcpts   int    // items of CURLOPT_MAIL_RCPT

	// What renew carries over or must know (easy.go).
	hstsOn     bool   // CURLOPT_HSTS_CTRL has CURLHSTS_ENABLE
	hstsList   bool   // libcurl keeps a list of CURLOPT_HSTS files
	altsvcFile string // CURLOPT_ALTSVC
	altsvcCtrl int64  // CURLOPT_ALTSVC_CTRL
	awsSigV4   string // CURLOPT_AWS_SIGV4
	httpAuth   int64  // CURLOPT_HTTPAUTH
	proxyAuth  int64  // CURLOPT_PROXYAUTH
	copyPost   bool   // SetPostFields has set a CURLOPT_COPYPOSTFIELDS body, copied with its size
	postSize   int64  // CURLOPT_POSTFIELDSIZE(_LARGE): -1, libcurl's default, for the body's strlen

	httpVersion int64 // CURLOPT_HTTP_VERSION (a 101 to libcurl's own h2c upgrade is interim)
}

// newProtoNotes is the notes of a new or reset handle.
func newProtoNotes() protoNotes { return protoNotes{postSize: -1} }

// notedString reports whether noteString records opt.
func notedString(opt C.CURLoption) bool {
	switch opt {
	case C.CURLOPT_URL, C.CURLOPT_DEFAULT_PROTOCOL, C.CURLOPT_HSTS, C.CURLOPT_ALTSVC,
		C.CURLOPT_DOH_URL, C.CURLOPT_AWS_SIGV4,
		C.CURLOPT_COOKIEFILE, C.CURLOPT_COOKIEJAR, C.CURLOPT_COOKIELIST:
		return true
	}
	return false
}

// noteString records the string options that checkStart looks at, once
// libcurl has taken them.
// null says libcurl was given NULL, not v.
func (e *Easy) noteString(opt C.CURLoption, v string, null bool) {
	switch opt {
	case C.CURLOPT_URL:
		e.notes.url = v
	case C.CURLOPT_DEFAULT_PROTOCOL:
		e.notes.defaultProt = v
	case C.CURLOPT_HSTS:
		// Any string, "" too, joins libcurl's list of files; NULL clears
		// the list and throws the cache away.
		e.notes.hstsList = !null
		if null {
			e.notes.hstsOn = false
		}
	case C.CURLOPT_ALTSVC:
		e.notes.altsvcFile = v
	case C.CURLOPT_AWS_SIGV4:
		e.notes.awsSigV4 = v
		if !null {
			e.notes.httpAuth = C.CURLAUTH_AWS_SIGV4 // as setopt.c sets it
		}
	case C.CURLOPT_COPYPOSTFIELDS: // SetPostFields's NULL (an object, for the escape hatches)
		e.notes.copyPost = !null
	case C.CURLOPT_DOH_URL:
		if !null {
			e.doh = true // Reset, Close and renew run on the driver (onLastMulti)
		}
	case C.CURLOPT_COOKIEFILE, C.CURLOPT_COOKIEJAR, C.CURLOPT_COOKIELIST:
		e.cookies = true // kept by Reset, as libcurl keeps the jar (renewCostly)
	}
}

// noteList records the list options that checkStart looks at.
func (e *Easy) noteList(opt C.CURLoption, n int) {
	if opt == C.CURLOPT_MAIL_RCPT {
		e.notes.mailRcpts = n
	}
}

// checkStart refuses, before anything is sent, a transfer that libcurl
// would run in a way the caller cannot have meant. The Easy is acquired.
func (e *Easy) checkStart() error {
	if err := e.checkMIME(); err != nil {
		return err
	}
	if !(e.notes.upload || e.mime != nil) || e.notes.mailRcpts > 0 {
		return nil // no mail to send, or recipients for it: any scheme will do
	}
	switch urlScheme(e.notes.url, e.notes.defaultProt) {
	case "smtp", "smtps":
		return ErrNoRecipients
	}
	return nil
}

// urlScheme returns the scheme libcurl uses for url, lower case: the URL's
// own, else the default protocol, else the one libcurl guesses from the
// host name's first label, else "http".
func urlScheme(url, defaultProt string) string {
	if i := strings.Index(url, "://"); i > 0 && validScheme(url[:i]) {
		return strings.ToLower(url[:i])
	}
	if defaultProt != "" {
		return strings.ToLower(defaultProt)
	}
	host := strings.ToLower(url)
	for _, p := range []string{"ftp", "dict", "ldap", "imap", "smtp", "pop3"} {
		if strings.HasPrefix(host, p+".") {
			return p
		}
	}
	return "http"
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}
