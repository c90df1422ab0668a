package curlpoll

// #include "shim.h"
import "C"

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// RedirectURL returns where a redirect would have led, when it was not
// followed (CURLINFO_REDIRECT_URL); "" if none.
func (e *Easy) RedirectURL() (string, error) { return e.infoString(C.CURLINFO_REDIRECT_URL) }

// VerifyResult returns the TLS library's certificate verification result
// (CURLINFO_SSL_VERIFYRESULT); 0 means verified, or not checked.
func (e *Easy) VerifyResult() (int64, error) { return e.infoLong(C.CURLINFO_SSL_VERIFYRESULT) }

// ProxyVerifyResult is VerifyResult for an HTTPS proxy
// (CURLINFO_PROXY_SSL_VERIFYRESULT).
func (e *Easy) ProxyVerifyResult() (int64, error) {
	return e.infoLong(C.CURLINFO_PROXY_SSL_VERIFYRESULT)
}

// HeaderSize returns the bytes of every header block received
// (CURLINFO_HEADER_SIZE).
func (e *Easy) HeaderSize() (int64, error) { return e.infoLong(C.CURLINFO_HEADER_SIZE) }

// RequestSize returns the bytes of the requests sent (CURLINFO_REQUEST_SIZE),
// headers and all, for HTTP.
func (e *Easy) RequestSize() (int64, error) { return e.infoLong(C.CURLINFO_REQUEST_SIZE) }

// DownloadSpeed returns the average download speed in bytes per second
// (CURLINFO_SPEED_DOWNLOAD_T).
func (e *Easy) DownloadSpeed() (int64, error) { return e.infoOff(C.CURLINFO_SPEED_DOWNLOAD_T) }

// UploadSpeed returns the average upload speed in bytes per second
// (CURLINFO_SPEED_UPLOAD_T).
func (e *Easy) UploadSpeed() (int64, error) { return e.infoOff(C.CURLINFO_SPEED_UPLOAD_T) }

// RetryAfter returns the delay a Retry-After header asked for
// (CURLINFO_RETRY_AFTER), 0 if none.
func (e *Easy) RetryAfter() (time.Duration, error) {
	s, err := e.infoOff(C.CURLINFO_RETRY_AFTER)
	return time.Duration(s) * time.Second, err
}

// FileTime returns the remote file's time, asked for with SetFileTime
// (CURLINFO_FILETIME_T); the zero Time if unknown.
func (e *Easy) FileTime() (time.Time, error) {
	s, err := e.infoOff(C.CURLINFO_FILETIME_T)
	if err != nil || s < 0 {
		return time.Time{}, err
	}
	return time.Unix(s, 0), nil
}

// ConditionUnmet reports whether SetTimeCondition's condition kept the
// transfer from happening (CURLINFO_CONDITION_UNMET).
func (e *Easy) ConditionUnmet() (bool, error) {
	v, err := e.infoLong(C.CURLINFO_CONDITION_UNMET)
	return v != 0, err
}

// AuthAvailable returns the authentication methods the server offered
// (CURLINFO_HTTPAUTH_AVAIL).
func (e *Easy) AuthAvailable() (Auth, error) {
	v, err := e.infoLong(C.CURLINFO_HTTPAUTH_AVAIL)
	return Auth(v), err
}

// ProxyAuthAvailable returns the authentication methods the proxy offered
// (CURLINFO_PROXYAUTH_AVAIL).
func (e *Easy) ProxyAuthAvailable() (Auth, error) {
	v, err := e.infoLong(C.CURLINFO_PROXYAUTH_AVAIL)
	return Auth(v), err
}

// ProxyError returns the SOCKS proxy's error (CURLINFO_PROXY_ERROR, a
// CURLPX_* code), 0 if none.
func (e *Easy) ProxyError() (int64, error) { return e.infoLong(C.CURLINFO_PROXY_ERROR) }

// Scheme returns the URL scheme of the last connection, in upper case
// (CURLINFO_SCHEME).
func (e *Easy) Scheme() (string, error) { return e.infoString(C.CURLINFO_SCHEME) }

// EffectiveMethod returns the method of the last request sent
// (CURLINFO_EFFECTIVE_METHOD); a followed 303 turns a POST into a GET.
func (e *Easy) EffectiveMethod() (string, error) {
	return e.infoString(C.CURLINFO_EFFECTIVE_METHOD)
}

// CertInfo returns the server's certificate chain as libcurl describes it
// (CURLINFO_CERTINFO), asked for with SetCertInfo: a list of "Name:value"
// fields per certificate, leaf first.
func (e *Easy) CertInfo() ([][]string, error) {
	if err := e.idle(); err != nil {
		return nil, err
	}
	var ci *C.struct_curl_certinfo
	if err := infoErr(C.CURLINFO_CERTINFO, C.curlpoll_getinfo_certinfo(e.c, &ci)); err != nil || ci == nil {
		return nil, err
	}
	lists := unsafe.Slice(ci.certinfo, int(ci.num_of_certs))
	out := make([][]string, len(lists))
	for i, l := range lists {
		for p := l; p != nil; p = p.next {
			out[i] = append(out[i], C.GoString(p.data))
		}
	}
	return out, nil
}

// PeerCertificates returns the server's certificate chain, leaf first,
// from CertInfo's "Cert:" fields (SetCertInfo must have asked for it).
func (e *Easy) PeerCertificates() ([]*x509.Certificate, error) {
	info, err := e.CertInfo()
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, fields := range info {
		for _, f := range fields {
			body, ok := strings.CutPrefix(f, "Cert:")
			if !ok {
				continue
			}
			b, _ := pem.Decode([]byte(body))
			if b == nil {
				return nil, fmt.Errorf("curlpoll: certificate %d: no PEM in CURLINFO_CERTINFO", i)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("curlpoll: certificate %d: %w", i, err)
			}
			certs = append(certs, c)
		}
	}
	return certs, nil
}
