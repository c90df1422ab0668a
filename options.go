package curlpoll

// #include "shim.h"
import "C"

import (
	"io"
	"strconv"
	"time"
	"unsafe"
)

// HTTPVersion selects the HTTP version libcurl asks for (CURL_HTTP_VERSION_*).
type HTTPVersion int

// HTTP versions for SetHTTPVersion.
const (
	HTTPVersionDefault     HTTPVersion = C.CURL_HTTP_VERSION_NONE              // libcurl's default: HTTP/2 over TLS by ALPN, else HTTP/1.1
	HTTPVersion1_0         HTTPVersion = C.CURL_HTTP_VERSION_1_0               // HTTP/1.0
	HTTPVersion1_1         HTTPVersion = C.CURL_HTTP_VERSION_1_1               // HTTP/1.1 only
	HTTPVersion2           HTTPVersion = C.CURL_HTTP_VERSION_2_0               // HTTP/2, with an Upgrade attempt in clear text
	HTTPVersion2TLS        HTTPVersion = C.CURL_HTTP_VERSION_2TLS              // HTTP/2 over TLS, HTTP/1.1 in clear text
	HTTPVersion2PriorKnown HTTPVersion = C.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE // HTTP/2 without negotiation (h2c); before libcurl 8.0.0 a reused connection fails (curl#10634): SetForbidReuse
	HTTPVersion3           HTTPVersion = C.CURL_HTTP_VERSION_3                 // HTTP/3 over QUIC for https, falling back to HTTP/2 or HTTP/1.1 over TCP when QUIC fails; needs a libcurl with HTTP/3 (Version().HTTP3)
	HTTPVersion3Only       HTTPVersion = C.CURL_HTTP_VERSION_3ONLY             // HTTP/3 over QUIC only: no fallback; needs a libcurl with HTTP/3
)

// SetURL sets the URL to transfer (CURLOPT_URL).
func (e *Easy) SetURL(url string) error { return e.setString(C.CURLOPT_URL, url) }

// SetCustomRequest replaces the request method (CURLOPT_CUSTOMREQUEST); ""
// restores the method implied by the other options.
func (e *Easy) SetCustomRequest(method string) error {
	return e.setString(C.CURLOPT_CUSTOMREQUEST, method)
}

// SetNoBody asks for no response body, as for HEAD (CURLOPT_NOBODY).
func (e *Easy) SetNoBody(on bool) error { return e.setBool(C.CURLOPT_NOBODY, on) }

// SetHTTPGet makes the request a GET again (CURLOPT_HTTPGET).
func (e *Easy) SetHTTPGet(on bool) error { return e.setBool(C.CURLOPT_HTTPGET, on) }

// SetPost makes the request a POST (CURLOPT_POST). The body comes from
// SetPostFields or, without them, from SetReader.
func (e *Easy) SetPost(on bool) error { return e.setBool(C.CURLOPT_POST, on) }

// SetPostFields sets the POST body from memory; libcurl copies it
// (CURLOPT_POSTFIELDSIZE_LARGE, then CURLOPT_COPYPOSTFIELDS).
func (e *Easy) SetPostFields(body []byte) error {
	if err := e.setOff(C.CURLOPT_POSTFIELDSIZE_LARGE, int64(len(body))); err != nil {
		return err
	}
	if len(body) == 0 {
		return e.setString(C.CURLOPT_COPYPOSTFIELDS, "")
	}
	if err := e.setBlobString(C.CURLOPT_COPYPOSTFIELDS, body); err != nil {
		return err
	}
	e.notes.copyPost = true
	return nil
}

// setBlobString passes binary data to a char* option that takes a length
// from another option (CURLOPT_COPYPOSTFIELDS): it may contain NUL bytes.
func (e *Easy) setBlobString(opt C.CURLoption, b []byte) error {
	if err := e.idle(); err != nil {
		return err
	}
	p := C.CBytes(b)
	defer C.free(p)
	return optErr(opt, C.curlpoll_setopt_ptr(e.c, opt, p))
}

// SetPostFieldSize sets the size of a POST body read with SetReader
// (CURLOPT_POSTFIELDSIZE_LARGE); -1 means unknown, sent chunked over
// HTTP/1.1. After SetPostFields, a larger size drops that body (libcurl's
// rule) and so does -1 before libcurl 8.6.0, which would send the body's
// copy up to a NUL byte past its end (from 8.6.0 it sends it up to its
// first NUL byte).
func (e *Easy) SetPostFieldSize(n int64) error {
	return e.setOff(C.CURLOPT_POSTFIELDSIZE_LARGE, n)
}

// SetUpload makes the request an upload, a PUT for HTTP (CURLOPT_UPLOAD).
// The body comes from SetReader.
func (e *Easy) SetUpload(on bool) error { return e.setBool(C.CURLOPT_UPLOAD, on) }

// SetInFileSize sets the size of an upload (CURLOPT_INFILESIZE_LARGE); -1
// means unknown, sent chunked over HTTP/1.1.
func (e *Easy) SetInFileSize(n int64) error { return e.setOff(C.CURLOPT_INFILESIZE_LARGE, n) }

// SetHTTPHeader sets extra request header lines, "Name: value" each
// (CURLOPT_HTTPHEADER). "Name:" removes a header libcurl would add, and
// "Name;" sends it with an empty value. nil clears the list.
func (e *Easy) SetHTTPHeader(lines []string) error {
	return e.setList(C.CURLOPT_HTTPHEADER, lines)
}

// SetHTTPVersion sets the HTTP version to ask for (CURLOPT_HTTP_VERSION).
func (e *Easy) SetHTTPVersion(v HTTPVersion) error {
	return e.setLong(C.CURLOPT_HTTP_VERSION, int64(v))
}

// SetUserAgent sets the User-Agent header (CURLOPT_USERAGENT); "" sends none.
func (e *Easy) SetUserAgent(ua string) error { return e.setString(C.CURLOPT_USERAGENT, ua) }

// SetAcceptEncoding sets the Accept-Encoding header and turns on decoding of
// those encodings (CURLOPT_ACCEPT_ENCODING). "" turns both off, the default;
// use SetAcceptAllEncodings for every encoding libcurl supports.
func (e *Easy) SetAcceptEncoding(enc string) error {
	return e.setString(C.CURLOPT_ACCEPT_ENCODING, enc)
}

// SetAcceptAllEncodings asks for, and decodes, every content encoding this
// libcurl supports (CURLOPT_ACCEPT_ENCODING set to "").
func (e *Easy) SetAcceptAllEncodings() error {
	if err := e.idle(); err != nil {
		return err
	}
	empty := C.CString("")
	defer C.free(unsafe.Pointer(empty))
	return optErr(C.CURLOPT_ACCEPT_ENCODING, C.curlpoll_setopt_str(e.c, C.CURLOPT_ACCEPT_ENCODING, empty))
}

// SetTimeout limits the whole transfer (CURLOPT_TIMEOUT_MS); 0 means none.
// The limit keeps running while a slow reader holds the transfer paused.
func (e *Easy) SetTimeout(d time.Duration) error {
	return e.setLong(C.CURLOPT_TIMEOUT_MS, d.Milliseconds())
}

// SetConnectTimeout limits the connection phase, TLS included
// (CURLOPT_CONNECTTIMEOUT_MS); 0 means libcurl's default of 300 seconds.
func (e *Easy) SetConnectTimeout(d time.Duration) error {
	return e.setLong(C.CURLOPT_CONNECTTIMEOUT_MS, d.Milliseconds())
}

// SetLowSpeedLimit fails the transfer when it is slower than bytesPerSecond
// for the duration d (CURLOPT_LOW_SPEED_LIMIT, CURLOPT_LOW_SPEED_TIME).
func (e *Easy) SetLowSpeedLimit(bytesPerSecond int64, d time.Duration) error {
	if err := e.setLong(C.CURLOPT_LOW_SPEED_LIMIT, bytesPerSecond); err != nil {
		return err
	}
	return e.setLong(C.CURLOPT_LOW_SPEED_TIME, int64(d/time.Second))
}

// SetExpect100Timeout sets how long to wait for a 100 Continue before
// sending the body anyway (CURLOPT_EXPECT_100_TIMEOUT_MS).
func (e *Easy) SetExpect100Timeout(d time.Duration) error {
	return e.setLong(C.CURLOPT_EXPECT_100_TIMEOUT_MS, d.Milliseconds())
}

// SetFollowLocation makes libcurl follow redirects itself
// (CURLOPT_FOLLOWLOCATION); off by default.
func (e *Easy) SetFollowLocation(on bool) error {
	if err := e.setBool(C.CURLOPT_FOLLOWLOCATION, on); err != nil {
		return err
	}
	e.follow = on
	return nil
}

// SetMaxRedirects limits how many redirects are followed (CURLOPT_MAXREDIRS).
func (e *Easy) SetMaxRedirects(n int) error { return e.setLong(C.CURLOPT_MAXREDIRS, int64(n)) }

// SetProtocols limits the URL schemes a transfer may use, as a comma-separated
// list such as "http,https" (CURLOPT_PROTOCOLS_STR, libcurl 7.85.0 or newer).
func (e *Easy) SetProtocols(list string) error {
	return e.setString(C.CURLOPT_PROTOCOLS_STR, list)
}

// SetRedirectProtocols limits the schemes a followed redirect may use
// (CURLOPT_REDIR_PROTOCOLS_STR, libcurl 7.85.0 or newer).
func (e *Easy) SetRedirectProtocols(list string) error {
	return e.setString(C.CURLOPT_REDIR_PROTOCOLS_STR, list)
}

// SetVerifyPeer turns verification of the server's certificate chain on or
// off (CURLOPT_SSL_VERIFYPEER); on by default.
func (e *Easy) SetVerifyPeer(on bool) error { return e.setBool(C.CURLOPT_SSL_VERIFYPEER, on) }

// SetVerifyHost turns checking of the certificate's name against the host
// on or off (CURLOPT_SSL_VERIFYHOST 2 or 0); on by default.
func (e *Easy) SetVerifyHost(on bool) error {
	var v int64
	if on {
		v = 2
	}
	return e.setLong(C.CURLOPT_SSL_VERIFYHOST, v)
}

// SetCAInfo sets a PEM file of trusted certificate authorities (CURLOPT_CAINFO).
func (e *Easy) SetCAInfo(path string) error { return e.setString(C.CURLOPT_CAINFO, path) }

// SetCAPath sets a directory of hashed CA certificates to trust as well
// as the CA bundle file (CURLOPT_CAPATH). curlpoll clears libcurl's
// built-in default; setting one turns off libcurl's per-multi cache of the
// parsed CA bundle.
func (e *Easy) SetCAPath(dir string) error { return e.setString(C.CURLOPT_CAPATH, dir) }

// SetCAInfoBlob sets trusted certificate authorities from PEM bytes
// (CURLOPT_CAINFO_BLOB, libcurl 7.77.0 or newer); they replace the default
// trust store.
//
// Where libcurl's TLS library takes no CA blob (GnuTLS), the bundle goes to
// a private file that the Easy holds until the option is set again, Reset
// or Close, and CURLOPT_CAINFO names it.
func (e *Easy) SetCAInfoBlob(pem []byte) error { return e.setCABlob(C.CURLOPT_CAINFO_BLOB, pem) }

// SetClientCertBlob sets the client certificate and its private key, both in
// PEM (CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB). With a TLS library that
// libcurl cannot give them to from memory (GnuTLS, which would ignore them
// without a word), it returns ErrClientCertBlobUnsupported.
func (e *Easy) SetClientCertBlob(certPEM, keyPEM []byte) error {
	if !libcurlTakesCertBlobs() {
		return ErrClientCertBlobUnsupported
	}
	if err := e.setString(C.CURLOPT_SSLCERTTYPE, "PEM"); err != nil {
		return err
	}
	if err := e.setBlob(C.CURLOPT_SSLCERT_BLOB, certPEM); err != nil {
		return err
	}
	return e.setBlob(C.CURLOPT_SSLKEY_BLOB, keyPEM)
}

// SetSSLVersion sets the lowest and highest TLS versions, as
// CURL_SSLVERSION_* and CURL_SSLVERSION_MAX_* values (CURLOPT_SSLVERSION).
func (e *Easy) SetSSLVersion(min, max int) error {
	return e.setLong(C.CURLOPT_SSLVERSION, int64(min|max))
}

// SetProxy sets the proxy URL (CURLOPT_PROXY); its scheme picks the kind:
// http://, https://, socks5:// or socks5h://. "", the default, uses no
// proxy: curlpoll sets an empty CURLOPT_PROXY, so libcurl never takes a
// proxy from its environment variables (http_proxy, HTTPS_PROXY,
// ALL_PROXY, ...). To honour them, pass what http.ProxyFromEnvironment
// chooses.
func (e *Easy) SetProxy(url string) error {
	if url == "" {
		return e.setBlobString(C.CURLOPT_PROXY, []byte{0})
	}
	return e.setString(C.CURLOPT_PROXY, url)
}

// SetNoProxy lists hosts reached without the proxy (CURLOPT_NOPROXY); "*"
// means every host.
func (e *Easy) SetNoProxy(list string) error { return e.setString(C.CURLOPT_NOPROXY, list) }

// SetDoHURL resolves host names with DNS-over-HTTPS through the server at
// url (CURLOPT_DOH_URL); "" uses the system resolver.
func (e *Easy) SetDoHURL(url string) error {
	return e.setString(C.CURLOPT_DOH_URL, url) // noteString marks e.doh
}

// SetResolve pins host names to addresses, "host:port:address" each
// (CURLOPT_RESOLVE).
func (e *Easy) SetResolve(entries []string) error { return e.setList(C.CURLOPT_RESOLVE, entries) }

// SetConnectTo redirects connections, "host:port:connect-host:connect-port"
// each (CURLOPT_CONNECT_TO).
func (e *Easy) SetConnectTo(entries []string) error {
	return e.setList(C.CURLOPT_CONNECT_TO, entries)
}

// SetPipeWait makes the transfer wait for a connection it can multiplex on
// rather than open a new one (CURLOPT_PIPEWAIT).
func (e *Easy) SetPipeWait(on bool) error { return e.setBool(C.CURLOPT_PIPEWAIT, on) }

// SetForbidReuse closes the connection after the transfer (CURLOPT_FORBID_REUSE).
func (e *Easy) SetForbidReuse(on bool) error { return e.setBool(C.CURLOPT_FORBID_REUSE, on) }

// SetFreshConnect makes the transfer use a new connection (CURLOPT_FRESH_CONNECT).
func (e *Easy) SetFreshConnect(on bool) error { return e.setBool(C.CURLOPT_FRESH_CONNECT, on) }

// SetBufferSize sets the receive buffer size, the most one write callback
// delivers (CURLOPT_BUFFERSIZE).
func (e *Easy) SetBufferSize(n int) error { return e.setLong(C.CURLOPT_BUFFERSIZE, int64(n)) }

// SetMaxFileSize fails a download larger than n bytes
// (CURLOPT_MAXFILESIZE_LARGE); 0 means no limit.
func (e *Easy) SetMaxFileSize(n int64) error { return e.setOff(C.CURLOPT_MAXFILESIZE_LARGE, n) }

// SetRange asks for part of the resource, such as "0-99" (CURLOPT_RANGE).
func (e *Easy) SetRange(r string) error { return e.setString(C.CURLOPT_RANGE, r) }

// SetUnixSocketPath connects through a Unix domain socket (CURLOPT_UNIX_SOCKET_PATH).
func (e *Easy) SetUnixSocketPath(path string) error {
	return e.setString(C.CURLOPT_UNIX_SOCKET_PATH, path)
}

// SetTCPKeepAlive turns TCP keep-alive probes on (CURLOPT_TCP_KEEPALIVE).
func (e *Easy) SetTCPKeepAlive(on bool) error { return e.setBool(C.CURLOPT_TCP_KEEPALIVE, on) }

// SetFailOnError fails transfers whose HTTP status is 400 or more
// (CURLOPT_FAILONERROR).
func (e *Easy) SetFailOnError(on bool) error { return e.setBool(C.CURLOPT_FAILONERROR, on) }

// SetUserPassword sets credentials as "user:password" (CURLOPT_USERPWD).
func (e *Easy) SetUserPassword(userpwd string) error {
	return e.setString(C.CURLOPT_USERPWD, userpwd)
}

// SetVerbose makes libcurl describe the transfer on standard error
// (CURLOPT_VERBOSE).
func (e *Easy) SetVerbose(on bool) error { return e.setBool(C.CURLOPT_VERBOSE, on) }

// SetCertInfo makes the server's certificate chain available to
// PeerCertificates (CURLOPT_CERTINFO).
func (e *Easy) SetCertInfo(on bool) error { return e.setBool(C.CURLOPT_CERTINFO, on) }

// SetWriter sets where Multi.Do writes the response body; nil discards it.
// The writer runs on the goroutine that called Do, never inside libcurl: a
// slow writer pauses the transfer, and a writer's error fails it.
func (e *Easy) SetWriter(w io.Writer) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.writer = w
	return nil
}

// SetReader sets the source of the request body for uploads and for POSTs
// without SetPostFields. It is read on a goroutine of its own, so it may
// block without holding up other transfers; libcurl waits for it
// (CURL_READFUNC_PAUSE). Set the size with SetInFileSize or
// SetPostFieldSize. It is read ahead of libcurl, within a bounded buffer:
// an error from it (other than io.EOF) fails the transfer with an *Error
// holding it, even once libcurl has the bytes it asked for. A Read in
// progress when the transfer ends is not interrupted: its goroutine ends
// when the Read returns, so close a reader that may block for long (a
// pipe, a network body) once the transfer is over.
func (e *Easy) SetReader(r io.Reader) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.reader = r
	return nil
}

// SetRewind sets the function that produces the request body again from
// its start, for when libcurl must send it twice: a reused connection that
// turned out to be closed, or an authentication retry (CURLOPT_SEEKFUNCTION).
// Without it such a transfer fails with ErrSendFailRewind.
func (e *Easy) SetRewind(rewind func() (io.Reader, error)) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.rewind = rewind
	return nil
}

// SetHeaderFunc sets a function called with each response header line, in
// order, line ending included (CURLOPT_HEADERFUNCTION); the line is a copy it
// may keep. It runs on a goroutine of the transfer, never inside libcurl,
// so one that blocks holds up only its own transfer's Do or Close, which
// wait for its last call. An error or a panic fails the transfer with that
// error, even if it comes after the body's last byte: Do returns it, and so
// does Transfer.Err once Close has returned. Transfer.Header collects the
// header block without it.
func (e *Easy) SetHeaderFunc(f func(line []byte) error) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.headerFunc = f
	return nil
}

// Progress is a transfer's byte counts, as libcurl's progress callback
// reports them. A total is 0 while unknown.
type Progress struct {
	DownloadTotal, Downloaded int64
	UploadTotal, Uploaded     int64
}

// SetProgressFunc sets a function that gets the transfer's byte counts
// about once a second and whenever data moves, as libcurl reports them
// (CURLOPT_XFERINFOFUNCTION); nil turns progress calls off. It runs on a
// goroutine of the transfer, never inside libcurl: a slow function gets
// fewer calls, with the latest counts, and one that blocks holds up only its
// own transfer's Do or Close, which wait for its last call (made with the
// final counts). Returning an error, or panicking, aborts the transfer with
// that error.
func (e *Easy) SetProgressFunc(f func(Progress) error) error {
	if err := e.setBool(C.CURLOPT_NOPROGRESS, f == nil); err != nil {
		return err
	}
	e.progressFunc = f
	return nil
}

// SetProgressInterval throttles the progress function: it runs at most once
// per d (the first call always runs), and counts held back are passed on
// when the interval ends, so the function sees where a transfer stalled.
// libcurl calls it after every socket event (7.88 also about once a second
// when nothing moves), so without an interval a fast download calls it
// thousands of times a second. 0 (the default) passes every call on. It
// does not make calls more frequent than libcurl's.
func (e *Easy) SetProgressInterval(d time.Duration) error {
	if err := e.idle(); err != nil {
		return err
	}
	e.progressGap = max(d, 0)
	return nil
}

// SetPathAsIs sends the URL's path as given, without squashing "/../" and
// "/./" sequences (CURLOPT_PATH_AS_IS).
func (e *Easy) SetPathAsIs(on bool) error { return e.setBool(C.CURLOPT_PATH_AS_IS, on) }

// SetMaxAgeConn sets how long a connection may sit idle in the pool and
// still be reused (CURLOPT_MAXAGE_CONN, whole seconds; libcurl's default is
// 118 seconds). 0 keeps libcurl's default.
func (e *Easy) SetMaxAgeConn(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return e.setLong(C.CURLOPT_MAXAGE_CONN, max(int64(d/time.Second), 1))
}

// SetProxyCAInfoBlob sets the certificate authorities trusted for an HTTPS
// proxy, from PEM bytes (CURLOPT_PROXY_CAINFO_BLOB, libcurl 7.77.0 or newer).
// Where libcurl takes no CA blob, it is a file, as with SetCAInfoBlob.
func (e *Easy) SetProxyCAInfoBlob(pem []byte) error {
	return e.setCABlob(C.CURLOPT_PROXY_CAINFO_BLOB, pem)
}

// String returns the version as in a status line: "HTTP/1.1", "HTTP/2".
func (v HTTPVersion) String() string {
	switch v {
	case HTTPVersion1_0:
		return "HTTP/1.0"
	case HTTPVersion1_1:
		return "HTTP/1.1"
	case HTTPVersion2, HTTPVersion2TLS, HTTPVersion2PriorKnown:
		return "HTTP/2"
	case HTTPVersion3, HTTPVersion3Only:
		return "HTTP/3"
	case HTTPVersionDefault:
		return "HTTP"
	}
	return "HTTPVersion(" + strconv.Itoa(int(v)) + ")"
}
