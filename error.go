package curlpoll

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrClosed is returned for work given to a Multi (or Transport) that has been
// closed, and by transfers that Close aborted. It is a sentinel so callers can
// tell a shutdown from a network failure.
var ErrClosed = errors.New("curlpoll: closed")

// ErrBusy is returned when an Easy is changed, closed or started while a
// transfer is still using it: libcurl handles are not safe for concurrent use.
var ErrBusy = errors.New("curlpoll: easy handle is in use by a transfer")

// ErrClientCertBlobUnsupported is the error of setting a client certificate
// from memory (Easy.SetClientCertBlob, a Transport's
// TLSClientConfig.Certificates) where libcurl's TLS library would ignore it
// (GnuTLS): refused rather than dropped, so that a request never goes out
// without the certificate the caller asked for.
var ErrClientCertBlobUnsupported = errors.New("curlpoll: libcurl's TLS library cannot take a client certificate from memory (CURLOPT_SSLCERT_BLOB); use a libcurl on OpenSSL, or certificate files")

// ErrAborted is the error of a transfer that its own Transfer.Close stopped
// before it finished.
var ErrAborted = errors.New("curlpoll: transfer aborted")

// ErrRequestLimit is inside the *Error of a transfer that libcurl was about
// to send one more request for than Easy.SetMaxRequests allows (a retry on
// a reused connection that closed before its response, a request sent
// again after a 417 or an authentication's challenge, a followed
// redirect): the transfer ends before a byte of that request is sent.
var ErrRequestLimit = errors.New("curlpoll: libcurl would send another request for the transfer, beyond its bound (SetMaxRequests)")

// Code is a libcurl result code (CURLcode). Its Error method returns
// libcurl's description (curl_easy_strerror). Transfers that fail return an
// *Error, which wraps its Code: test with errors.Is(err, curlpoll.ErrCouldntConnect).
type Code int

// Result codes that callers commonly test for; any other CURLcode is a Code
// too. The comment names the CURLE_* constant.
const (
	ErrUnsupportedProtocol     Code = C.CURLE_UNSUPPORTED_PROTOCOL     // CURLE_UNSUPPORTED_PROTOCOL
	ErrURLMalformat            Code = C.CURLE_URL_MALFORMAT            // CURLE_URL_MALFORMAT
	ErrCouldntResolveProxy     Code = C.CURLE_COULDNT_RESOLVE_PROXY    // CURLE_COULDNT_RESOLVE_PROXY
	ErrCouldntResolveHost      Code = C.CURLE_COULDNT_RESOLVE_HOST     // CURLE_COULDNT_RESOLVE_HOST
	ErrCouldntConnect          Code = C.CURLE_COULDNT_CONNECT          // CURLE_COULDNT_CONNECT
	ErrWeirdServerReply        Code = C.CURLE_WEIRD_SERVER_REPLY       // CURLE_WEIRD_SERVER_REPLY
	ErrHTTP2                   Code = C.CURLE_HTTP2                    // CURLE_HTTP2
	ErrPartialFile             Code = C.CURLE_PARTIAL_FILE             // CURLE_PARTIAL_FILE
	ErrHTTPReturnedError       Code = C.CURLE_HTTP_RETURNED_ERROR      // CURLE_HTTP_RETURNED_ERROR
	ErrWriteError              Code = C.CURLE_WRITE_ERROR              // CURLE_WRITE_ERROR
	ErrUploadFailed            Code = C.CURLE_UPLOAD_FAILED            // CURLE_UPLOAD_FAILED
	ErrReadError               Code = C.CURLE_READ_ERROR               // CURLE_READ_ERROR
	ErrOutOfMemory             Code = C.CURLE_OUT_OF_MEMORY            // CURLE_OUT_OF_MEMORY
	ErrOperationTimedOut       Code = C.CURLE_OPERATION_TIMEDOUT       // CURLE_OPERATION_TIMEDOUT
	ErrRangeError              Code = C.CURLE_RANGE_ERROR              // CURLE_RANGE_ERROR
	ErrSSLConnectError         Code = C.CURLE_SSL_CONNECT_ERROR        // CURLE_SSL_CONNECT_ERROR
	ErrAbortedByCallback       Code = C.CURLE_ABORTED_BY_CALLBACK      // CURLE_ABORTED_BY_CALLBACK
	ErrBadFunctionArgument     Code = C.CURLE_BAD_FUNCTION_ARGUMENT    // CURLE_BAD_FUNCTION_ARGUMENT
	ErrTooManyRedirects        Code = C.CURLE_TOO_MANY_REDIRECTS       // CURLE_TOO_MANY_REDIRECTS
	ErrUnknownOption           Code = C.CURLE_UNKNOWN_OPTION           // CURLE_UNKNOWN_OPTION
	ErrGotNothing              Code = C.CURLE_GOT_NOTHING              // CURLE_GOT_NOTHING
	ErrSendError               Code = C.CURLE_SEND_ERROR               // CURLE_SEND_ERROR
	ErrRecvError               Code = C.CURLE_RECV_ERROR               // CURLE_RECV_ERROR
	ErrSSLCertProblem          Code = C.CURLE_SSL_CERTPROBLEM          // CURLE_SSL_CERTPROBLEM
	ErrPeerFailedVerification  Code = C.CURLE_PEER_FAILED_VERIFICATION // CURLE_PEER_FAILED_VERIFICATION
	ErrBadContentEncoding      Code = C.CURLE_BAD_CONTENT_ENCODING     // CURLE_BAD_CONTENT_ENCODING
	ErrFileSizeExceeded        Code = C.CURLE_FILESIZE_EXCEEDED        // CURLE_FILESIZE_EXCEEDED
	ErrSendFailRewind          Code = C.CURLE_SEND_FAIL_REWIND         // CURLE_SEND_FAIL_REWIND
	ErrHTTP2Stream             Code = C.CURLE_HTTP2_STREAM             // CURLE_HTTP2_STREAM
	ErrProxy                   Code = C.CURLE_PROXY                    // CURLE_PROXY
	ErrSSLPinnedPubKeyNotMatch Code = C.CURLE_SSL_PINNEDPUBKEYNOTMATCH // CURLE_SSL_PINNEDPUBKEYNOTMATCH
	ErrLoginDenied             Code = C.CURLE_LOGIN_DENIED             // CURLE_LOGIN_DENIED
	ErrRemoteAccessDenied      Code = C.CURLE_REMOTE_ACCESS_DENIED     // CURLE_REMOTE_ACCESS_DENIED
	ErrRemoteFileNotFound      Code = C.CURLE_REMOTE_FILE_NOT_FOUND    // CURLE_REMOTE_FILE_NOT_FOUND
	ErrUseSSLFailed            Code = C.CURLE_USE_SSL_FAILED           // CURLE_USE_SSL_FAILED
	ErrNotBuiltIn              Code = C.CURLE_NOT_BUILT_IN             // CURLE_NOT_BUILT_IN
	// ErrTooLarge is CURLE_TOO_LARGE, new in libcurl 8.6.0 (a literal, so
	// that curlpoll builds against older headers): a header line, a header
	// block or the number of header fields over libcurl's limits.
	ErrTooLarge Code = 100
)

func (c Code) Error() string {
	return fmt.Sprintf("curl: (%d) %s", int(c), C.GoString(C.curl_easy_strerror(C.CURLcode(c))))
}

// codeErr returns nil for CURLE_OK and the Code otherwise.
func codeErr(rc C.CURLcode) error {
	if rc == C.CURLE_OK {
		return nil
	}
	return Code(rc)
}

// MultiCode is a libcurl multi interface result code (CURLMcode); its Error
// method returns libcurl's description (curl_multi_strerror).
type MultiCode int

func (c MultiCode) Error() string {
	return fmt.Sprintf("curl multi: (%d) %s", int(c), C.GoString(C.curl_multi_strerror(C.CURLMcode(c))))
}

func multiCodeErr(rc C.CURLMcode) error {
	if rc == C.CURLM_OK {
		return nil
	}
	return MultiCode(rc)
}

// Error is the error of a failed transfer. It carries libcurl's code, the
// detail libcurl wrote to the transfer's error buffer (CURLOPT_ERRORBUFFER),
// and, when a callback failed the transfer, that callback's error (for a
// panic, a *PanicError). errors.Is and errors.As see both Code and Err.
type Error struct {
	Code   Code          // libcurl's result code
	Detail string        // the error buffer's text; may be empty
	Err    error         // the Go error that made a callback abort the transfer, if any
	Errno  syscall.Errno // the system call error of this failure (CURLINFO_OS_ERRNO; errno.go), 0 if none
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code.Error())
	if e.Detail != "" && e.Detail != C.GoString(C.curl_easy_strerror(C.CURLcode(e.Code))) {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the Code and, if set, the callback's error and the
// system call error (so that errors.Is(err, syscall.ECONNRESET) works).
func (e *Error) Unwrap() []error {
	errs := []error{e.Code}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Errno != 0 {
		errs = append(errs, e.Errno)
	}
	return errs
}

// Timeout reports whether the transfer failed because one of its time
// limits passed, so that an *Error satisfies net.Error.
func (e *Error) Timeout() bool { return e.Code == ErrOperationTimedOut }

// Temporary is part of net.Error; it is deprecated there, and reports
// Timeout here.
func (e *Error) Temporary() bool { return e.Timeout() }

// PanicError is the error of a transfer whose callback code panicked. The
// panic is recovered before it can unwind through libcurl's C frames.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("curlpoll: panic in callback: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
