package curlpoll

// #include "shim.h"
import "C"

import "time"

// SetReferer sets the Referer header (CURLOPT_REFERER).
func (e *Easy) SetReferer(url string) error { return e.setString(C.CURLOPT_REFERER, url) }

// SetAutoReferer sets the Referer header to the previous URL when
// following a redirect (CURLOPT_AUTOREFERER).
func (e *Easy) SetAutoReferer(on bool) error { return e.setBool(C.CURLOPT_AUTOREFERER, on) }

// PostRedir says which redirects of a POST keep it a POST (CURL_REDIR_POST_*
// bits); by default libcurl turns it into a GET after 301, 302 and 303.
type PostRedir int

// Redirects for SetPostRedir.
const (
	PostRedir301 PostRedir = C.CURL_REDIR_POST_301 // CURL_REDIR_POST_301
	PostRedir302 PostRedir = C.CURL_REDIR_POST_302 // CURL_REDIR_POST_302
	PostRedir303 PostRedir = C.CURL_REDIR_POST_303 // CURL_REDIR_POST_303
)

// SetPostRedir keeps a POST a POST across the redirects named
// (CURLOPT_POSTREDIR).
func (e *Easy) SetPostRedir(p PostRedir) error { return e.setLong(C.CURLOPT_POSTREDIR, int64(p)) }

// TimeCondition is a condition on the remote file's time.
type TimeCondition int

// Conditions for SetTimeCondition.
const (
	TimeCondNone              TimeCondition = C.CURL_TIMECOND_NONE         // no condition
	TimeCondIfModifiedSince   TimeCondition = C.CURL_TIMECOND_IFMODSINCE   // If-Modified-Since
	TimeCondIfUnmodifiedSince TimeCondition = C.CURL_TIMECOND_IFUNMODSINCE // If-Unmodified-Since
)

// SetTimeCondition makes the transfer conditional on the remote file's
// time (CURLOPT_TIMECONDITION, CURLOPT_TIMEVALUE_LARGE): over HTTP an
// If-Modified-Since or If-Unmodified-Since header. A condition not met is
// not an error: ConditionUnmet reports it.
func (e *Easy) SetTimeCondition(c TimeCondition, t time.Time) error {
	if err := e.setLong(C.CURLOPT_TIMECONDITION, int64(c)); err != nil {
		return err
	}
	return e.setOff(C.CURLOPT_TIMEVALUE_LARGE, t.Unix())
}

// SetFileTime asks for the remote file's time (CURLOPT_FILETIME), read
// with FileTime after the transfer.
func (e *Easy) SetFileTime(on bool) error { return e.setBool(C.CURLOPT_FILETIME, on) }

// SetHSTSFile turns HTTP Strict Transport Security on and keeps its cache
// in a file, read before and written after (CURLOPT_HSTS,
// CURLOPT_HSTS_CTRL): an http URL of a host that asked for HSTS goes out
// as https. "" turns HSTS off.
func (e *Easy) SetHSTSFile(path string) error {
	ctrl := int64(0)
	if path != "" {
		ctrl = C.CURLHSTS_ENABLE
	}
	if err := e.setLong(C.CURLOPT_HSTS_CTRL, ctrl); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_HSTS, path)
}

// SetAltSvcFile turns Alt-Svc on and keeps its cache in a file
// (CURLOPT_ALTSVC, CURLOPT_ALTSVC_CTRL with HTTP/1.1, HTTP/2 and, where
// libcurl has it, HTTP/3): a host that advertised an alternative service is
// reached there next time. "" turns it off.
func (e *Easy) SetAltSvcFile(path string) error {
	ctrl := int64(0)
	if path != "" {
		ctrl = C.CURLALTSVC_H1 | C.CURLALTSVC_H2
		if libcurlHasHTTP3() {
			ctrl |= C.CURLALTSVC_H3
		}
	}
	if err := e.setLong(C.CURLOPT_ALTSVC_CTRL, ctrl); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_ALTSVC, path)
}

// SetRequestTarget sets the request target instead of the URL's path
// (CURLOPT_REQUEST_TARGET), such as "*" for OPTIONS.
func (e *Easy) SetRequestTarget(target string) error {
	return e.setString(C.CURLOPT_REQUEST_TARGET, target)
}

// SetHTTPContentDecoding turns decoding of a Content-Encoding on, the
// default when SetAcceptEncoding asked for it, or off
// (CURLOPT_HTTP_CONTENT_DECODING).
func (e *Easy) SetHTTPContentDecoding(on bool) error {
	return e.setBool(C.CURLOPT_HTTP_CONTENT_DECODING, on)
}

// SetIgnoreContentLength reads the body until the connection closes,
// whatever Content-Length says (CURLOPT_IGNORE_CONTENT_LENGTH).
func (e *Easy) SetIgnoreContentLength(on bool) error {
	return e.setBool(C.CURLOPT_IGNORE_CONTENT_LENGTH, on)
}
