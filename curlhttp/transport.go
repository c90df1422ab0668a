package curlhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curlpoll/curlpoll"
)

// Transport is an http.RoundTripper that runs requests on libcurl, driven by
// the Go runtime's network poller. It is a drop-in replacement for
// net/http's Transport: put it in an http.Client and every request the
// client makes goes through libcurl, with net/http's semantics.
//
// The zero value is ready to use: the first RoundTrip starts a Multi. A
// Transport is safe for concurrent use. Its configuration fields are read
// when a request starts, the connection bounds (MaxConnsPerHost,
// MaxIdleConns and MaxIdleConnsPerHost) when a Multi starts or first
// serves a host: set them before first use.
//
// Requests made one at a time, or a few at once, run on one Multi: one
// goroutine drives libcurl for them, and they share its connections, TLS
// sessions and DNS cache. When more are in flight at once (four on every
// Multi), the Transport starts another Multi, up to GOMAXPROCS of them,
// so that libcurl's work for them runs on more than one thread. Each Multi
// has connections, TLS sessions and DNS entries of its own, and a request
// uses its Multi's only: a burst of requests may open connections (and
// make full TLS handshakes) that one pool would have spared, and HTTP/2
// requests made at once may use one connection per Multi where net/http
// uses one. The idle bound is split between the Multis (each keeps its
// part, at least one, of MaxIdleConnsPerHost per host, so there are never
// more Multis than it allows: two by default), and requests to a host take
// the Multis that served it in turn, so that their idle connections stay in
// use. With
// MaxConnsPerHost set, the Transport keeps to one Multi: libcurl bounds
// each Multi's connections, and a bound split between Multis would leave
// connections unused.
//
// Redirects, cookies and authentication retries stay the http.Client's job:
// libcurl never follows a redirect here, and only http and https URLs are
// accepted.
//
// What cannot be mapped onto libcurl, and what is done instead:
//   - TLSClientConfig: a client-side field that the Transport cannot
//     honour makes every https request (and every request through an HTTPS
//     proxy) fail before anything is sent, with an error that wraps
//     ErrUnsupportedTLSConfig: EncryptedClientHelloConfigList and
//     EncryptedClientHelloRejectionVerify; GetClientCertificate where
//     libcurl does not run on the OpenSSL curlpoll links; where libcurl
//     does not run on OpenSSL, CipherSuites (unless MinVersion is TLS 1.3,
//     where crypto/tls ignores them too) and CurvePreferences, and on OpenSSL a suite or
//     curve OpenSSL has no name for here (RC4, 3DES), or CurvePreferences
//     through an HTTPS proxy; a ServerName that is neither a host name as
//     crypto/x509 takes one nor an IP address in its canonical form
//     (libcurl would rewrite 127.1 or 0:0:0:0:0:0:0:1 and verify that, and
//     let *.example.com match .example.com), or, through an HTTPS proxy,
//     not the proxy's host (net/http verifies the proxy for it too); and
//     where Go cannot verify (see below), RootCAs, Time,
//     VerifyPeerCertificate and VerifyConnection, which also fail the
//     request with RenegotiateFreelyAsClient on OpenSSL (a certificate a
//     renegotiation brings would not be verified) and with HTTP3Only (a
//     QUIC connection shows no peer chain).
//     Server-only fields are ignored, as net/http's client ignores them.
//     These client-side fields are dropped, which cannot make a connection
//     less safe: Rand (libcurl's TLS library has its own), KeyLogWriter
//     (but GnuTLS itself writes the session secrets to the file that the
//     environment variable SSLKEYLOGFILE names, where net/http never does),
//     ClientSessionCache (libcurl keeps its own session cache),
//     and DynamicRecordSizingDisabled. SessionTicketsDisabled turns
//     libcurl's session cache off (CURLOPT_SSL_SESSIONID_CACHE).
//     Renegotiation: a renegotiation the server asks for is refused, as
//     crypto/tls refuses it, unless RenegotiateFreelyAsClient allows it
//     (curlpoll.Easy.SetTLSRenegotiation); RenegotiateOnceAsClient fails
//     the request on OpenSSL, which cannot stop after one. On GnuTLS
//     libcurl never takes part in one; where libcurl's TLS library cannot
//     be told (an OpenSSL other than the one curlpoll links, or the build
//     tag curlpoll_noopenssl), its own default applies: OpenSSL accepts a
//     secure renegotiation on TLS 1.2.
//     CipherSuites and CurvePreferences are given to OpenSSL by its names
//     (CURLOPT_SSL_CIPHER_LIST and CURLOPT_PROXY_SSL_CIPHER_LIST,
//     CURLOPT_SSL_EC_CURVES); a post-quantum key exchange that the
//     OpenSSL in use lacks fails the connection before anything is sent.
//   - TLSClientConfig.RootCAs, Time, VerifyPeerCertificate and
//     VerifyConnection are honoured by verifying the peer in Go, as
//     crypto/tls does (x509 verification against RootCAs, else CAPEM,
//     CAFile or the system's roots, for ServerName or the URL's host;
//     skipped with InsecureSkipVerify; then VerifyPeerCertificate, then
//     VerifyConnection), with libcurl's verification off. This needs
//     libcurl 7.80.0+ on OpenSSL or GnuTLS (the peer's chain is read from
//     the live connection; on GnuTLS VerifyConnection sees no
//     CipherSuite) and no HTTPS proxy (net/http would verify the proxy
//     with them too). It runs for every request, on a new or a reused
//     connection, after the handshake and before a byte of the request is
//     sent (CURLOPT_PREREQFUNCTION); a failure is an error for which
//     errors.Is(err, ErrPeerFailedVerification) holds: the
//     *tls.CertificateVerificationError above, or an *Error with the
//     function's error inside.
//     A successful verdict is kept for a minute for the connection's TLS
//     handshake, server name and chain, so the functions are called once
//     for each new connection, as crypto/tls calls them for every
//     handshake, and about once a minute on a kept-alive one, not once per
//     request; TLS sessions are not resumed, as a resumed
//     session shows no chain. The verification, the user's functions
//     included, runs inside libcurl on the goroutine that drives the
//     request's Multi: while it runs no other request on that Multi (all
//     of the Transport's, unless many run at once) makes progress, and a
//     function that waited for a request through the same Transport may
//     never return. A panic in it is recovered and fails the request with
//     a *PanicError.
//   - A peer whose certificate does not verify fails the request, as with
//     net/http, with a *tls.CertificateVerificationError (the error
//     itself, not wrapped) in which errors.As finds the x509 error
//     (x509.UnknownAuthorityError, HostnameError, CertificateInvalidError)
//     and curl's *Error: errors.Is(err, ErrPeerFailedVerification) holds.
//     Its Err is not the x509 error itself, which it holds beside curl's.
//     When libcurl verifies, it leaves no chain behind a failed handshake:
//     the error comes from one TLS handshake that Go makes with the same
//     server afterwards, within the request's context and
//     TLSHandshakeTimeout (10 s without one); nothing is sent over it, and
//     none is made through a proxy, where the error is curl's alone.
//   - TLSClientConfig.ServerName: libcurl sends SNI and verifies the
//     certificate for the URL's host. A ServerName that differs is honoured
//     by asking libcurl for https://ServerName:port and connecting it to the
//     URL's host and port (CURLOPT_CONNECT_TO), with the Host header kept.
//   - TLSClientConfig.Certificates: the first one is the client
//     certificate (crypto/tls picks the first one the server accepts).
//     GetClientCertificate, where set, is asked instead when a server (or
//     an HTTPS proxy) requests a certificate, with the authorities and
//     signature schemes it accepts (curlpoll.Easy.SetClientCertFunc; its
//     CertificateRequestInfo's Context is nil), inside libcurl on the
//     goroutine that drives the request's Multi, as the verification
//     functions are; a key that cannot be exported
//     (x509.MarshalPKCS8PrivateKey) fails the request. As crypto/tls
//     without a ClientSessionCache, no TLS session is resumed (a resumed
//     one would carry an earlier handshake's identity), and no TLS 1.3
//     post-handshake authentication is offered; a renegotiation other than
//     RenegotiateNever is refused with it.
//   - Errors: a transfer's error is curl's *curlpoll.Error (its Code for
//     errors.Is, the errno of its own failure: syscall.ECONNREFUSED), and
//     a connection that cannot be made also holds what net/http returns:
//     a *net.OpError with Op "dial" (a *net.DNSError inside for a failed
//     name lookup, the connect call's *os.SyscallError for a refused or
//     unreachable peer), inside one with Op "proxyconnect" when it was the
//     proxy that could not be reached; a connection broken under a request
//     (reset by the peer) also holds net/http's *net.OpError, Op "read" or
//     "write", and its message ("read: connection reset by peer"). A
//     server that closes the connection without a byte of response fails
//     the request with io.EOF itself, and a response body cut short
//     (before its Content-Length or its last chunk) fails the body's read
//     with io.ErrUnexpectedEOF itself, as net/http's do (code compares
//     them with ==): curl's *Error is not kept there. A TLS connection
//     closed without a close_notify alert counts as closed so, and a body
//     that ends with its connection is complete then, as with net/http
//     (libcurl 8.x on OpenSSL 3 fails all three with its receive error).
//     One that closes the connection before the end of the response's
//     header block fails the request with an error for which
//     errors.Is(err, io.ErrUnexpectedEOF) holds. An https URL
//     whose server answers in plain HTTP fails with crypto/tls's
//     tls.RecordHeaderError, as net/http's (http.Client makes it
//     http.ErrSchemeMismatch), from one handshake Go makes with the server
//     (within 2 s) after libcurl's failed saying the reply was no TLS, as
//     for a certificate error above; through a proxy, and over HTTP/3, the
//     error is curl's alone. The message is curl's otherwise.
//   - Request.Close (and DisableKeepAlives) closes the connection after
//     the request where the request is alone on it (CURLOPT_FORBID_REUSE):
//     an HTTP/2 connection that other requests are using at the time stays
//     in the pool, where net/http stops giving it to new requests and
//     closes it after its last (libcurl has no call to retire a
//     connection; CloseIdleConnections retires the Transport's Multis).
//     The other way round, an HTTP/2 request stopped before its end (its
//     context cancelled, its response body closed early) closes its
//     connection unless other requests use it, where net/http resets the
//     stream alone and keeps the connection: libcurl sends the stream's
//     RST_STREAM only when the connection is next used, and the server
//     would go on with the stream until then.
//   - DialContext makes the TCP connections, as net/http's
//     (curlpoll.Easy.SetDialFunc): libcurl's side of each is a loopback
//     connection to a listener opened for it, relayed to DialContext's
//     (a copy of every byte more, and tens of microseconds per request).
//     It is asked for the request's host and port, or the proxy's (an
//     HTTPS one included), and libcurl looks up no name.
//     TLSHandshakeTimeout counts from the dial's end, as net/http's, but
//     libcurl's connection to the listener is made at once, and its
//     ExpectContinueTimeout counts from then: where
//     DialContext takes longer, the body goes out without waiting for the
//     server's 100 Continue. There is no DialTLSContext, Dial or DialTLS,
//     and DialContext refuses HTTP3, whose QUIC connections would not go
//     through it. Without DialContext the connections are libcurl's to
//     make (curlpoll.Easy has SetInterface and SetUnixSocketPath for a
//     local address or a Unix socket), with TCP keep-alive probes after
//     15 s idle, every 15 s, as net/http's zero Transport dials them
//     (http.DefaultTransport's dialer waits 30 s). In a trace,
//     ConnectStart and ConnectDone (and DNSStart and DNSDone) are
//     DialContext's own, as with net/http: a net.Dialer reports them
//     through the context it is given; GotConnInfo.Conn has the addresses
//     of DialContext's connection (where they are IP addresses), not of
//     libcurl's loopback connection.
//   - Connection pooling is libcurl's, which bounds its whole pool of idle
//     connections (CURLMOPT_MAXCONNECTS), not each host's: the bound is
//     MaxIdleConnsPerHost (2 by default, as net/http's) for each host the
//     Transport has served, capped by MaxIdleConns (split between its
//     Multis). So one host may keep more idle connections than
//     MaxIdleConnsPerHost while others keep fewer. A connection the
//     server closes while idle is closed by libcurl when a later request
//     on its Multi looks for a connection (it checks the pool for
//     dead ones at most once a second), not at once as net/http does:
//     libcurl has no call for that, and curlpoll never closes libcurl's
//     descriptors. IdleConnTimeout is rounded to whole seconds, and 0
//     keeps libcurl's 118 seconds.
//   - Request.Trailer is sent as net/http sends it over HTTP/1.1, after a
//     body of unknown length (chunked), with the values the body's reader
//     set by its end (curlpoll.Easy.SetTrailerFunc). libcurl sends no trailers over
//     HTTP/2 or HTTP/3: where net/http would send such a request over
//     HTTP/2, it goes over HTTP/1.1, on a connection closed after it; where
//     the Transport speaks only HTTP/2 or HTTP/3 to the URL (Protocols,
//     HTTP3Only) it fails before anything is sent. Before libcurl 8.7.0 it
//     is sent once: where libcurl would send it again (a kept-alive
//     connection found closed) it fails, as a request net/http does not
//     repeat (its error holds io.EOF and curlpoll.ErrRequestLimit).
//   - A 101 Switching Protocols response is returned at once with no
//     body (http.NoBody), and its connection closed: net/http's body is
//     the connection itself, readable and writable, which libcurl cannot
//     hand over (httputil.ReverseProxy answers such an upgrade with 502).
//   - libcurl 7.88 drops the trailers of an HTTP/2 response that has a
//     Content-Length: it ends the transfer at the last byte of the body.
//   - libcurl 7.88 does not deliver an HTTP/2 response that the server
//     ends while a streamed request body (ContentLength -1) waits for more
//     data: RoundTrip returns once the body ends or the request is
//     cancelled (8.14.1 delivers it at once, as net/http).
//   - libcurl 7.88 fails an HTTP/2 request with a body (CURLE_HTTP2_STREAM,
//     the response body lost: seen on its first Read) when the server
//     answers before the request body's end came in and then resets the
//     stream with NO_ERROR, as Go's HTTP/2 server does when its handler
//     leaves the request body unread (8.14.1 delivers the response, as
//     net/http).
//   - The default User-Agent names the protocol, as net/http's does
//     ("Go-http-client/2.0" on HTTP/2): over TLS it is added once ALPN has
//     decided, in libcurl's pre-request callback (libcurl 7.80.0+). Where
//     the connection's TLS state cannot be read (curlpoll built with the
//     tag curlpoll_noopenssl on an OpenSSL libcurl), it is
//     "Go-http-client/1.1" on HTTP/2 too.
//   - A chunked response to a request with a body is taken as it comes
//     (CURLOPT_HTTP_TRANSFER_DECODING off) and decoded by the Transport, as
//     net/http decodes it: over HTTP/1.1 libcurl ends a transfer only once
//     the request body is sent in full, and the response body ends at its
//     last chunk all the same.
//   - Request.Body is closed once the request ends, after its last Read
//     (a caller may reuse it once Close is called, as http.RoundTripper
//     says), but a Read still under way 50 ms after the request ended (a
//     body that blocks, such as a pipe whose writer waits for the
//     response) is not waited for: the body is closed while it runs, as
//     net/http's HTTP/2 client closes it, where its HTTP/1 client waits
//     for the Read however long it takes.
//   - Request.GetBody is used when libcurl must send the body again
//     (CURLOPT_SEEKFUNCTION), such as on a reused connection found closed,
//     and for a request sent again whose body, held in memory
//     (a bytes.Buffer, bytes.Reader or strings.Reader, as
//     http.NewRequest takes them), an earlier RoundTrip read to its end:
//     net/http sends that one with a body from GetBody too, but only on
//     a kept-alive connection, and fails it on a new one ("http:
//     ContentLength=N with Body length 0").
//     As net/http, the Transport lets libcurl send a request again only if
//     it may be repeated (a GET, HEAD, OPTIONS or TRACE, or one with an
//     Idempotency-Key, without a body or with GetBody); any other fails
//     (the error holds io.EOF and curlpoll.ErrRequestLimit) where libcurl
//     would send it again, before a byte of it goes out. That includes an
//     HTTP/2 stream the server refused (REFUSED_STREAM, GOAWAY), which
//     net/http's HTTP/2 client sends again whatever the method: libcurl
//     does not tell it apart from a connection lost after the request
//     went out. A request whose caller asked for "100-continue" goes out
//     at most once more: libcurl answers a 417 by sending the request
//     again, and drops the 417's body, so that the Transport returns the
//     417, as net/http does, but with an empty body.
//
// HTTP/2 multiplexing follows NewMulti: off on libcurl older than 8.1.0,
// where a paused stream can stall the others on its connection and removing
// a paused stream leaks; each HTTP/2 request then has a connection of its
// own, unless MultiplexHTTP2 is set. On newer libcurl, requests wait for a
// connection they can multiplex on (CURLOPT_PIPEWAIT).
type Transport struct {
	// Proxy returns the proxy for a request, nil for none; it is called for
	// every request. http.ProxyFromEnvironment and http.ProxyURL work. The
	// schemes http, https, socks5 and socks5h are supported. With a nil
	// Proxy no proxy is used: libcurl never reads proxy environment
	// variables itself.
	Proxy func(*http.Request) (*url.URL, error)

	// DialContext, if set, makes the Transport's TCP connections, as
	// net/http's: it is called with network "tcp" and the host and port
	// of the request's URL, or of its proxy, and with the request's
	// context (its values; it is cancelled if libcurl gives the
	// connection up). The connection is kept and reused as any other.
	// It cannot be used with HTTP3. See the type's documentation.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLSClientConfig configures TLS for https requests: InsecureSkipVerify,
	// ServerName, MinVersion, MaxVersion, Certificates (the first),
	// GetClientCertificate (on OpenSSL),
	// NextProtos, SessionTicketsDisabled and, on OpenSSL, CipherSuites and
	// CurvePreferences are honoured by libcurl, RootCAs, Time,
	// VerifyPeerCertificate and VerifyConnection by Go's verification; a
	// field that cannot be honoured fails the request
	// (ErrUnsupportedTLSConfig); see the type's documentation.
	// As with net/http, a non-nil TLSClientConfig turns HTTP/2 off unless
	// ForceAttemptHTTP2 is set.
	TLSClientConfig *tls.Config

	// CAFile names a PEM file of certificate authorities to trust for https
	// requests and HTTPS proxies (CURLOPT_CAINFO, CURLOPT_PROXY_CAINFO), in
	// place of libcurl's default CA bundle.
	CAFile string

	// CAPEM holds PEM certificate authorities to trust for https requests
	// and HTTPS proxies (CURLOPT_CAINFO_BLOB), in place of libcurl's default
	// CA bundle and CAFile.
	CAPEM []byte

	// TLSHandshakeTimeout limits the connection phase, TCP connect and TLS
	// handshake together (CURLOPT_CONNECTTIMEOUT_MS); with DialContext, the
	// TLS handshake alone, from the dial's end. 0 means libcurl's default
	// of 300 seconds.
	TLSHandshakeTimeout time.Duration

	// DisableKeepAlives closes each connection after its request and sends
	// "Connection: close" (CURLOPT_FORBID_REUSE).
	DisableKeepAlives bool

	// DisableCompression stops the Transport from asking for gzip with
	// "Accept-Encoding: gzip" when the request has no Accept-Encoding of
	// its own. When it asks, it decodes a gzip response transparently and
	// sets Response.Uncompressed, as net/http does.
	DisableCompression bool

	// MaxIdleConns bounds the idle connections kept for reuse, across all
	// hosts (CURLMOPT_MAXCONNECTS). 0 means no bound but
	// MaxIdleConnsPerHost's.
	MaxIdleConns int

	// MaxIdleConnsPerHost bounds the idle connections kept for each host,
	// 2 (http.DefaultMaxIdleConnsPerHost) if 0; libcurl bounds only its
	// whole pool, to MaxIdleConnsPerHost for each host served (see the
	// type's documentation).
	MaxIdleConnsPerHost int

	// MaxConnsPerHost limits the connections to one host, in any state
	// (CURLMOPT_MAX_HOST_CONNECTIONS); requests beyond it wait. 0 means no
	// limit.
	MaxConnsPerHost int

	// IdleConnTimeout is how long an idle connection may be reused
	// (CURLOPT_MAXAGE_CONN, whole seconds). 0 keeps libcurl's 118 seconds.
	IdleConnTimeout time.Duration

	// ResponseHeaderTimeout, if not 0, limits the wait for the response's
	// header block, counted from the start of the request (connecting and
	// sending included, unlike net/http which starts counting once the
	// request is written). The error's Timeout method reports true, and
	// errors.Is(err, context.DeadlineExceeded) holds, as with net/http.
	ResponseHeaderTimeout time.Duration

	// ExpectContinueTimeout is how long to wait for a "100 Continue" when
	// the request has "Expect: 100-continue" before sending the body anyway
	// (CURLOPT_EXPECT_100_TIMEOUT_MS). 0 sends it at once.
	ExpectContinueTimeout time.Duration

	// TLSNextProto, when not nil and without an "h2" entry, turns HTTP/2
	// off, as it does for net/http. The functions are never called.
	TLSNextProto map[string]func(authority string, c *tls.Conn) http.RoundTripper

	// MaxResponseHeaderBytes limits the size of the response's header
	// block; 0 means net/http's default of 10 MB. A larger one fails the
	// request.
	MaxResponseHeaderBytes int64

	// ForceAttemptHTTP2 keeps HTTP/2 on when TLSClientConfig is set. Without
	// TLSClientConfig, HTTP/2 is negotiated over TLS by ALPN anyway, as
	// libcurl does by default.
	ForceAttemptHTTP2 bool

	// MultiplexHTTP2 runs concurrent HTTP/2 requests to one host as streams
	// of one connection (up to 100 each) on libcurl older than 8.1.0, where
	// it is off by default (see above): there, a response body that is read
	// slowly can hold up the other streams of its connection. Newer libcurl
	// always multiplexes.
	MultiplexHTTP2 bool

	// Protocols, if not nil, selects HTTP versions as in net/http: without
	// HTTP2, HTTP/2 is not negotiated; with UnencryptedHTTP2 and without
	// HTTP1, http URLs use HTTP/2 without negotiation (h2c, prior
	// knowledge). Without it, http URLs use HTTP/1.1.
	Protocols *http.Protocols

	// HTTP3 asks for HTTP/3 (QUIC) on https requests; it needs a libcurl
	// built with HTTP/3 (Version().HTTP3), or RoundTrip fails before
	// sending anything. net/http has no HTTP/3: this is libcurl's.
	HTTP3 HTTP3Mode

	// Logger, if not nil, receives libcurl's verbose output for every
	// request, one record per line at slog.LevelDebug, with the attributes
	// "transfer" (a number unique to the request's transfer) and "kind"
	// (text, header-in or header-out), credentials redacted as in
	// Easy.SetLogger. The records are written by the request's goroutines,
	// not by libcurl's: RoundTrip's caller while it waits for the response
	// header block, and the goroutine that closes the body for the rest.
	// A slow handler slows only its own request. Without a Logger libcurl
	// is not verbose.
	Logger *slog.Logger

	poolOnce sync.Once
	p        *transportPool // see pool

	// tlsMu guards tlsv, Go's verification for the last TLS settings that
	// needed it (tlsverify.go). It is the Transport's, not the
	// pool's: it holds TLSClientConfig, whose functions may refer to the
	// Transport, and the pool must not.
	tlsMu sync.Mutex
	tlsv  *tlsVerifier
}

// transportPool is what a Transport owns: its Multis, idle handles and CA
// files. It lives apart from the Transport, and nothing in it points back
// to it but the requests whose body is open, so that a Transport dropped
// without Close (as net/http's need none) is found unreachable and its
// cleanup closes the pool (runtime.AddCleanup): goroutines, descriptors
// and libcurl handles all go.
type transportPool struct {
	// mu guards the fields below.
	mu     sync.Mutex
	closed bool
	curs   []*multiRef            // where new requests start (shards); empty until needed
	shards int                    // how many curs may hold: set with the first
	turn   int                    // where acquireMulti starts looking, taken in turn (< len(curs))
	multis map[*multiRef]struct{} // curs and the retired ones still in use
	idle   []*pooledEasy          // handles ready for the next request
	live   map[*call]struct{}     // requests whose response body is open
}

// pool returns the Transport's pool, making it on first use and arranging
// for it to be closed if the Transport is dropped without Close. The
// cleanup runs on the runtime's cleanup goroutine, which must not block:
// it closes the pool on a goroutine of its own.
func (tr *Transport) pool() *transportPool {
	tr.poolOnce.Do(func() {
		tr.p = &transportPool{}
		runtime.AddCleanup(tr, func(p *transportPool) { go p.close() }, tr.p)
	})
	return tr.p
}

var _ http.RoundTripper = (*Transport)(nil)

// HTTP3Mode says whether the Transport asks for HTTP/3.
type HTTP3Mode int

const (
	// HTTP3Off, the default: HTTP/2 or HTTP/1.1 over TCP, as net/http.
	HTTP3Off HTTP3Mode = iota
	// HTTP3Attempt tries HTTP/3 first and falls back to HTTP/2 or
	// HTTP/1.1 over TCP when QUIC fails, as libcurl does with
	// CURL_HTTP_VERSION_3: it starts a TCP connection too if QUIC has not
	// answered within a short time, and uses whichever is ready first.
	// With a TLSClientConfig field that only Go verifies (RootCAs, Time,
	// VerifyPeerCertificate, VerifyConnection), requests use TCP alone:
	// Go cannot read a QUIC connection's peer certificates.
	HTTP3Attempt
	// HTTP3Only uses HTTP/3 and nothing else (CURL_HTTP_VERSION_3ONLY): a
	// server that does not speak QUIC fails the request, and so does a
	// TLSClientConfig field that only Go verifies (ErrUnsupportedTLSConfig).
	HTTP3Only
)

// maxIdleEasies bounds the pool of idle easy handles.
const maxIdleEasies = 64

// multiRef is a Multi and the requests that use it. CloseIdleConnections
// retires it: no new request starts on it, and it is closed, with its idle
// connections, when its last request ends.
type multiRef struct {
	m     *curlpoll.Multi
	shard int // its place among the pool's curs, for its share of the idle bound

	// Guarded by the pool's mu:
	inflight    int
	retired     bool
	hosts       map[string]struct{} // hosts requests went to (idleBound)
	maxConnects int                 // CURLMOPT_MAXCONNECTS as idleBound chose it

	applyMu sync.Mutex // serializes applyIdleBound
	applied int        // the CURLMOPT_MAXCONNECTS the Multi has; guarded by applyMu
}

// RoundTrip runs one HTTP transaction, as http.RoundTripper describes: it
// returns a response for any status, never changes req, and closes
// req.Body on every path.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &call{tr: tr, req: req, body: req.Body}
	resp, err := c.roundTrip()
	if err != nil {
		c.finish()
		return nil, err
	}
	return resp, nil
}

// pooledEasy is an easy handle of the Transport's, and what it was last
// configured for: a request whose static options (staticKey) are the same
// as the previous one's on the handle sets only the options that change per
// request, without curl_easy_reset, which with the full option set cost a
// fifth of a small request's instructions.
//
// The header list is kept the same way: a request whose lines are the
// previous one's leaves libcurl's list as it is (hdrs), saving its
// rebuilding in Go and in C (an slist item each, allocated and freed).
type pooledEasy struct {
	e     *curlpoll.Easy
	key   staticKey
	keyed bool // key holds: the static options are set as it says

	// hdrs is the CURLOPT_HTTPHEADER list libcurl holds, each item ended
	// by a NUL, when hdrsOK; next is where configure writes the next
	// request's, swapped with hdrs once set.
	hdrs, next []byte
	hdrsOK     bool

	// uaGuess is the User-Agent that the last request whose protocol ALPN
	// decided sent: the next one's guess (call.uaGuess).
	uaGuess string

	// dyn is what the previous request set of the options that change
	// per request, when dynOK.
	dyn   perRequest
	dynOK bool

	// cur is the call the handle serves, from its configure to its
	// release: the header and pre-request functions, the handle's own
	// (made once), run cur's. headerOn and prereqOn say whether they are
	// set on the Easy.
	cur                *call
	onHeader           func(*curlpoll.Transfer, []byte) error
	onPrereq           func(*curlpoll.Transfer, curlpoll.ConnInfo) error
	headerOn, prereqOn bool
}

// forget marks the handle as configured for nothing (after a reset, or
// when its state is unknown).
func (pe *pooledEasy) forget() {
	pe.keyed, pe.hdrsOK, pe.dynOK, pe.headerOn, pe.prereqOn = false, false, false, false, false
}

// headerFunc is the handle's inline header function: the current call's.
// It runs on the driver, between the call's configure (which sets cur
// before the transfer starts) and its release (after the transfer ends).
func (pe *pooledEasy) headerFunc() func(*curlpoll.Transfer, []byte) error {
	if pe.onHeader == nil {
		pe.onHeader = func(t *curlpoll.Transfer, line []byte) error { return pe.cur.hs.onLine(t, line) }
	}
	return pe.onHeader
}

// prereqFunc is the handle's pre-request function: the current call's.
func (pe *pooledEasy) prereqFunc() func(*curlpoll.Transfer, curlpoll.ConnInfo) error {
	if pe.onPrereq == nil {
		pe.onPrereq = func(t *curlpoll.Transfer, ci curlpoll.ConnInfo) error { return pe.cur.prereq(t, ci) }
	}
	return pe.onPrereq
}

// getEasy takes a handle from the pool or makes one.
func (tr *Transport) getEasy() (*pooledEasy, error) {
	p := tr.pool()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errTransportClosed
	}
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return e, nil
	}
	p.mu.Unlock()
	e, err := curlpoll.NewEasy()
	if err != nil {
		return nil, err
	}
	return &pooledEasy{e: e}, nil
}

var errTransportClosed = fmt.Errorf("curlpoll: transport: %w", curlpoll.ErrClosed)

// A Transport spreads the requests it runs at once over up to maxShards
// Multis, each driven by a goroutine of its own: one Multi's driver, the
// only goroutine that calls libcurl for it, runs on one thread at a time,
// and a Transport with one Multi could use no more than one CPU's worth of
// libcurl. A request starts on the Multi with the fewest requests in
// flight; on a tie, on one that has served its host, those taken in turn
// (so that every Multi's idle connections to it are used and aged, and a
// host first met after a burst gets connections on one Multi, not on
// each), and a new Multi starts only when every one has spillAt
// requests in flight: a program that makes one request at a time, or a
// few, keeps one Multi, and so one pool of connections, TLS sessions and
// DNS entries, as with net/http. Measured (bench/NOTES.md): on two CPUs,
// with nginx on one of them, 16 requests at a time ran ~20% faster on two
// Multis than on one.
const (
	maxShards = 8
	spillAt   = 4
)

// shardBound is how many Multis the Transport may spread requests over:
// GOMAXPROCS, within maxShards, and no more than the idle bound can be
// split into (each Multi keeps at least one idle connection: idleBound).
// With MaxConnsPerHost, one: libcurl bounds a Multi's connections to a
// host, and a bound split between Multis would keep requests waiting on
// one Multi while another had room (or, split only between the Multis
// started so far, be exceeded when another starts).
func (tr *Transport) shardBound() int {
	if tr.MaxConnsPerHost > 0 {
		return 1
	}
	k := min(runtime.GOMAXPROCS(0), maxShards, tr.idlePerHost())
	if tr.MaxIdleConns > 0 {
		k = min(k, tr.MaxIdleConns)
	}
	return max(k, 1)
}

func (tr *Transport) idlePerHost() int {
	if tr.MaxIdleConnsPerHost > 0 {
		return tr.MaxIdleConnsPerHost
	}
	return http.DefaultMaxIdleConnsPerHost
}

// share is part i of a bound of n split over k: the parts add up to n,
// and none is below 1.
func share(n, i, k int) int {
	part := n / k
	if i < n%k {
		part++
	}
	return max(part, 1)
}

// acquireMulti returns the Multi for a new request, starting one if needed,
// and counts the request on it.
func (tr *Transport) acquireMulti(host string) (*multiRef, error) {
	p := tr.pool()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errTransportClosed
	}
	// The least busy Multi; on a tie, one that has served host (its
	// connections and TLS sessions), those in turn.
	var r *multiRef
	rServed := false
	if n := len(p.curs); n > 0 {
		p.turn = (p.turn + 1) % n
		for i := range n {
			c := p.curs[(p.turn+i)%n]
			_, served := c.hosts[host]
			if r == nil || c.inflight < r.inflight || c.inflight == r.inflight && served && !rServed {
				r, rServed = c, served
			}
		}
	}
	if len(p.curs) == 0 {
		p.shards = tr.shardBound()
	}
	added := false
	if r == nil || r.inflight >= spillAt && len(p.curs) < p.shards {
		nr, err := tr.startMulti(len(p.curs))
		switch {
		case err == nil:
			r, added = nr, true
			p.curs = append(p.curs, r)
			if p.multis == nil {
				p.multis = make(map[*multiRef]struct{})
			}
			p.multis[r] = struct{}{}
		case r == nil:
			p.mu.Unlock()
			return nil, err
		}
		// Else the busy Multi takes it.
	}
	r.inflight++
	// The idle bounds: r's, when it serves a new host; every Multi's when
	// one more shares them.
	var update []*multiRef
	if newHost := r.addHost(host); added {
		for _, c := range p.curs {
			if tr.idleBound(c, len(p.curs)) {
				update = append(update, c)
			}
		}
	} else if newHost && tr.idleBound(r, len(p.curs)) {
		update = append(update, r)
	}
	p.mu.Unlock()
	for _, c := range update {
		// Messages to the drivers: not under the pool's lock.
		if err := tr.applyIdleBound(c); err != nil && c == r {
			tr.release(nil, nil, r)
			return nil, err
		}
	}
	return r, nil
}

// startMulti starts the Transport's Multi number i: multiplexing, and
// MaxConnsPerHost (which keeps the Transport on one Multi: shardBound).
func (tr *Transport) startMulti(i int) (*multiRef, error) {
	m, err := curlpoll.NewMulti()
	if err != nil {
		return nil, err
	}
	if tr.MultiplexHTTP2 && !curlpoll.MultiplexSafe() {
		err = m.SetMultiplex(true)
	}
	if err == nil && tr.MaxConnsPerHost > 0 {
		err = m.SetMaxHostConnections(tr.MaxConnsPerHost)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return &multiRef{m: m, shard: i}, nil
}

// maxHostsTracked bounds the hosts a Multi's idle bound counts.
const maxHostsTracked = 1024

// addHost notes that a request went to host; it reports whether host is
// new to the Multi (and counted).
func (r *multiRef) addHost(host string) bool {
	if _, ok := r.hosts[host]; ok || len(r.hosts) >= maxHostsTracked {
		return false
	}
	if r.hosts == nil {
		r.hosts = make(map[string]struct{})
	}
	r.hosts[host] = struct{}{}
	return true
}

// idleBound sets r.maxConnects, the bound on its idle connections when k
// Multis share the Transport's, and reports whether it changed. libcurl
// bounds its whole pool, not each host's share of it
// (CURLMOPT_MAXCONNECTS: when a connection goes idle in a full pool, the
// oldest idle one is closed), so MaxIdleConnsPerHost (net/http's default:
// 2) becomes a bound on the pool of MaxIdleConnsPerHost for each host the
// Multi has served, and MaxIdleConns, if set, caps that; then r gets its
// part of it (share). Without it, libcurl keeps up to four connections per
// transfer it has seen at once, and 100 concurrent requests to one host
// left 100 idle connections. The caller holds the pool's lock.
func (tr *Transport) idleBound(r *multiRef, k int) bool {
	n := tr.idlePerHost() * max(len(r.hosts), 1)
	if tr.MaxIdleConns > 0 {
		n = min(n, tr.MaxIdleConns)
	}
	n = share(n, r.shard, k)
	if n == r.maxConnects {
		return false
	}
	r.maxConnects = n
	return true
}

// applyIdleBound gives r's Multi the idle bound idleBound last chose. The
// requests that change it apply it one at a time, each until the Multi has
// the latest, so that an older bound never lands last.
func (tr *Transport) applyIdleBound(r *multiRef) error {
	p := tr.pool()
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	for {
		p.mu.Lock()
		want := r.maxConnects
		p.mu.Unlock()
		if want == r.applied {
			return nil
		}
		if err := r.m.SetMaxConnects(want); err != nil {
			return err
		}
		r.applied = want
	}
}

// release gives back what a call that has ended holds, under one lock:
// its Easy, ready for the next request, to the pool (or frees it), its
// count on its Multi (closing a retired Multi it was the last user of), and
// its place among the live calls. pe and r may be nil.
func (tr *Transport) release(c *call, pe *pooledEasy, r *multiRef) {
	p := tr.pool()
	if pe != nil && !pe.ready(c) {
		pe.e.Close()
		pe = nil
	}
	last := false
	p.mu.Lock()
	if pe != nil && !p.closed && len(p.idle) < maxIdleEasies {
		p.idle = append(p.idle, pe)
		pe = nil
	}
	if r != nil {
		r.inflight--
		if last = r.retired && r.inflight == 0; last {
			delete(p.multis, r)
		}
	}
	delete(p.live, c)
	p.mu.Unlock()
	if pe != nil {
		pe.e.Close()
	}
	if last {
		r.m.Close()
	}
}

// CloseIdleConnections closes the connections that no request is using.
// libcurl has no call for that, so the Transport retires its Multis: new
// requests start on a new one (with new connection, DNS and TLS session
// caches), and each old one is closed when its last request ends.
func (tr *Transport) CloseIdleConnections() {
	p := tr.pool()
	p.mu.Lock()
	var idle []*multiRef
	for _, r := range p.curs {
		r.retired = true
		if r.inflight == 0 {
			idle = append(idle, r)
			delete(p.multis, r)
		}
	}
	p.curs = nil
	p.mu.Unlock()
	for _, r := range idle {
		r.m.Close()
	}
}

// Close stops every request in flight (their RoundTrip, or their response
// body's Read, returns an error for which errors.Is(err, ErrClosed) holds),
// closes every connection, frees every libcurl handle and waits for the
// Transport's goroutines to end. Later requests fail with ErrClosed. Close
// is idempotent.
func (tr *Transport) Close() error {
	tr.pool().close()
	return nil
}

// close is Close, for the Transport or its cleanup.
func (p *transportPool) close() {
	p.mu.Lock()
	p.closed = true
	multis := p.multis
	p.multis, p.curs = nil, nil
	live := p.live
	p.live = nil
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for r := range multis {
		r.m.Close()
	}
	for c := range live {
		c.finish() // a request body being read is closed on a goroutine (closeRequestBodies)
	}
	for _, pe := range idle {
		pe.e.Close()
	}
}

// ready readies pe for the next request after c: the options that change
// per request are set again by the next configure, so only what c left
// behind is dropped (its body reader and rewind, and cur).
// A call that used more (a trace or Logger, progress, Go's TLS
// verification) or whose transfer failed leaves a handle reset
// (curl_easy_reset) instead, to be configured in full. False if the handle
// is unusable.
func (pe *pooledEasy) ready(c *call) bool {
	e := pe.e
	pe.cur = nil // an idle handle must not keep c (and its response) alive
	if !pe.keyed || c == nil || c.extras || c.t == nil || c.t.Err() != nil {
		pe.forget()
		return e.Reset() == nil
	}
	// (libcurl before 8.17.0 counts a handle's retries over its whole
	// life, curl#18926: the core starts a transfer after one that retried
	// on a duplicate handle, which keeps every option set here.)
	if c.uaByALPN {
		if c.uaInList != c.uaGuess {
			pe.hdrsOK = false // prereq replaced the line hdrs has
		}
		pe.uaGuess = c.uaInList // the next request's guess
	}
	// The reader and rewind are c's too; the handle's functions reach c
	// only through cur. The dial function is c's as well (its address and
	// trace, bound when libcurl opens a socket, which a relay may dial
	// after c is over), and the handle lives in a table of the core's:
	// kept, it would keep c and the Transport reachable.
	if c.tr.DialContext != nil && e.SetDialFunc(nil) != nil {
		return false
	}
	return e.SetReader(nil) == nil && e.SetRewind(nil) == nil
}

// track records a call whose response is returned, so that Close can end it;
// false if the Transport closed meanwhile.
func (tr *Transport) track(c *call) bool {
	p := tr.pool()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.live == nil {
		p.live = make(map[*call]struct{})
	}
	p.live[c] = struct{}{}
	return true
}

// call is the state of one request.
type call struct {
	tr    *Transport
	req   *http.Request
	body  io.ReadCloser // req.Body, closed once by finish
	guard readGuard     // what reads body

	pe           *pooledEasy
	extras       bool         // callbacks beyond the header function are set (pooledEasy.ready)
	uaByALPN     bool         // the User-Agent is set once ALPN has spoken (prereq)
	uaGuess      string       // with uaByALPN: the User-Agent configure put in the header list
	uaInList     string       // and the one there now
	verifier     *tlsVerifier // Go verifies the peer (prereq)
	trailersOnce bool         // libcurl sends the request, which has trailers, only once (configure)
	viaProxy     bool         // the request goes through a proxy
	proxyHost    string       // and that proxy's host name
	mr           *multiRef
	t            *curlpoll.Transfer
	started      atomic.Pointer[curlpoll.Transfer] // t, for armHandshakeTimer's timer
	handshook    atomic.Bool                       // the pre-request function ran since the last dial (armHandshakeTimer)
	// hsTimer is armHandshakeTimer's timer, stopped once the handshake is
	// done or the call over (hsOver): one left running would keep the
	// call, and its Transport, reachable until it fires.
	hsTimer atomic.Pointer[time.Timer]
	hsOver  atomic.Bool
	obs     *observer // nil without a trace or a Logger

	// cfg and hs are configure's results, and rb the response body: kept
	// here to save allocations (a body keeps its call alive anyway).
	cfg reqConfig
	hs  headerState
	rb  body

	// bodiesMu guards bodies, the request bodies GetBody made for
	// rewinds, and bodiesClosed, set once they are closed.
	bodiesMu     sync.Mutex
	bodies       []guardedBody
	bodiesClosed bool

	once sync.Once
}

// finish ends the call: stops the transfer if it still runs, closes the
// request body, and gives the Easy and the Multi back. Safe to call more
// than once, from any goroutine.
func (c *call) finish() {
	c.once.Do(func() {
		c.hsOver.Store(true)
		c.stopHandshakeTimer()
		if c.t != nil {
			c.t.Close()
			if c.obs != nil {
				c.obs.deliver()
			}
		}
		c.closeRequestBodies()
		c.tr.release(c, c.pe, c.mr)
	})
}

// closeRequestBodies closes req.Body and the bodies GetBody made, once,
// each after its last Read (closeAfterReads): finish calls it, and so
// does closeBodiesAtEnd's goroutine.
func (c *call) closeRequestBodies() {
	c.bodiesMu.Lock()
	if c.bodiesClosed {
		c.bodiesMu.Unlock()
		return
	}
	bodies := c.bodies
	c.bodies, c.bodiesClosed = nil, true
	c.bodiesMu.Unlock()
	// No Read starts from now on. Where none is under way, the bodies are
	// closed at once; else on a goroutine, which waits for the Reads
	// (closeAfterReads): net/http's Body.Close and RoundTrip do not wait
	// for a Read of the request body either (a pipe whose writer is idle).
	busy := c.body != nil && c.guard.stop() != nil
	for _, b := range bodies {
		if b.g.stop() != nil {
			busy = true
		}
	}
	if busy {
		go c.closeBodies(bodies)
	} else {
		c.closeBodies(bodies)
	}
}

// closeBodies closes req.Body and bodies, each after its last Read.
func (c *call) closeBodies(bodies []guardedBody) {
	var deadline time.Time
	if c.body != nil {
		closeAfterReads(c.body, &c.guard, &deadline)
	}
	for _, b := range bodies {
		closeAfterReads(b.rc, b.g, &deadline)
	}
}

// closeBodiesAtEnd closes the request body as soon as the transfer ends,
// for a call whose response is returned: as net/http closes it when the
// request ends (its context canceled, its HTTP/2 stream ended or reset),
// not when the caller closes the response body. A caller that writes the
// body through a pipe (a streaming client, connect-go's) would otherwise
// block in Write for ever once the transfer stopped reading it, and never
// get to close the response body.
//
// A request whose bodies were all read to their end (most: the body is
// sent before the response comes) needs no goroutine: no Read is under
// way or to come, and its bodies are closed at once, as net/http closes a
// body after its last Read.
func (c *call) closeBodiesAtEnd() {
	if c.body == nil || c.body == http.NoBody {
		return
	}
	if c.bodiesReadToEnd() {
		c.closeRequestBodies()
		return
	}
	done := c.t.Done()
	go func() {
		<-done
		c.closeRequestBodies()
	}()
}

// bodiesReadToEnd reports whether the request body, and the bodies
// GetBody made, were read to their end (or left for another), and none is
// being read.
func (c *call) bodiesReadToEnd() bool {
	c.bodiesMu.Lock()
	defer c.bodiesMu.Unlock()
	if c.bodiesClosed {
		return true
	}
	for _, b := range c.bodies {
		if !b.g.readToEnd() {
			return false
		}
	}
	// req.Body, unless a body from GetBody took its place (and it is
	// not being read): no one reads it again then.
	return c.guard.readToEnd() || len(c.bodies) > 0 && c.guard.notReading()
}

// roundTrip validates the request, starts it and waits for the response's
// header block. On error the caller calls finish.
func (c *call) roundTrip() (*http.Response, error) {
	req := c.req
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := contextError(ctx); err != nil {
		return nil, err
	}
	var proxy *url.URL
	if c.tr.Proxy != nil {
		u, err := c.tr.Proxy(req)
		if err != nil {
			return nil, err
		}
		proxy = u
	}
	c.viaProxy = proxy != nil
	if proxy != nil {
		c.proxyHost = proxy.Hostname()
	}
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.GetConn != nil {
		trace.GetConn(canonicalAddr(req.URL))
	}
	pe, err := c.tr.getEasy()
	if err != nil {
		return nil, err
	}
	c.pe = pe
	cfg, err := c.configure(proxy)
	if err != nil {
		return nil, err
	}
	if c.mr, err = c.tr.acquireMulti(c.req.URL.Host); err != nil {
		return nil, err
	}
	if c.t, err = c.mr.m.Start(ctx, pe.e); err != nil {
		if errors.Is(err, curlpoll.ErrClosed) {
			err = errTransportClosed
		}
		return nil, err
	}
	c.started.Store(c.t)
	if c.obs != nil {
		c.obs.t = c.t
	}
	var headerTimer *time.Timer
	if d := c.tr.ResponseHeaderTimeout; d > 0 {
		t := c.t
		headerTimer = time.AfterFunc(d, func() {
			select {
			case <-t.HeaderReady(): // too late: the header block is in
			default:
				t.Abort(errResponseHeaderTimeout)
			}
		})
	}
	if c.obs != nil {
		c.obs.wait(c.t)
	}
	block, err := c.t.HeaderBlock()
	if headerTimer != nil {
		headerTimer.Stop()
	}
	if c.obs != nil {
		if herr := c.obs.err(); herr != nil {
			return nil, herr
		}
	}
	if err != nil {
		return nil, c.transferError(err)
	}
	resp, err := c.response(block, cfg)
	if err != nil {
		return nil, err
	}
	c.closeBodiesAtEnd()
	return resp, nil
}

// transferError turns the error of a transfer that failed before its
// response arrived into what a net/http user can test.
func (c *call) transferError(err error) error {
	// The handle is free once the transfer is closed: read why it failed.
	c.t.Close()
	if errors.Is(err, curlpoll.ErrClosed) {
		return errTransportClosed
	}
	var ce *curlpoll.Error
	if !errors.As(err, &ce) {
		return err // the context's error, or errResponseHeaderTimeout
	}
	if ce.Err != nil {
		var he *headerTooLargeError
		if errors.As(ce.Err, &he) {
			return he
		}
		var le *bodyLengthError
		if errors.As(ce.Err, &le) {
			return le // net/http's error, as it returns it
		}
	}
	if tlsCutShort(ce) {
		// A TLS close without close_notify before the response: as a FIN
		// there, net/http's io.EOF, or the header block cut short.
		if c.hs.n == 0 {
			return io.EOF
		}
		return errHeaderCutShort
	}
	if perr := c.peerError(ce); perr != nil {
		return perr
	}
	if ce.Code == curlpoll.ErrSSLConnectError && c.req.URL.Scheme == "https" && c.tr.HTTP3 != HTTP3Only && notTLSReply(ce.Detail) {
		if rhe, ok := c.recordHeaderError(); ok {
			return rhe
		}
	}
	if errors.Is(ce, curlpoll.ErrRequestLimit) {
		if c.trailersOnce {
			return &curlError{ce: ce, extra: errTrailersNotSentAgain}
		}
		return &curlError{ce: ce, extra: errNotSentAgain}
	}
	return c.wrapCurlError(ce)
}

// errNotSentAgain is beside the error of a request that libcurl would have
// sent again, before any of its response (requestBound): its reused
// connection closed, or an HTTP/2 stream was refused. net/http's error for
// a request it does not repeat unwraps to io.EOF too.
// errTrailersNotSentAgain is errNotSentAgain for a request with trailers,
// which libcurl before 8.7.0 cannot send twice (curlpoll.Easy.SetTrailerFunc).
var errTrailersNotSentAgain = fmt.Errorf("curlhttp: no response (a reused connection closed), and the request is not sent again: libcurl before 8.7.0 cannot send a request with trailers twice: %w", io.EOF)

var errNotSentAgain = fmt.Errorf("curlhttp: no response (a reused connection closed, or an HTTP/2 stream was refused), and the request is not sent again: it is not idempotent (net/http's Request.isReplayable): %w", io.EOF)

// timeoutError is an error whose Timeout method reports true, for net.Error,
// and which is context.DeadlineExceeded for errors.Is, as net/http's
// timeoutError is (code tells a deadline from a failure to retry so).
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Timeout() bool        { return true }
func (e *timeoutError) Temporary() bool      { return true }
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

var errResponseHeaderTimeout error = &timeoutError{"curlpoll: timeout awaiting response headers"}

// headerTooLargeError is the error of a response whose header block is
// larger than MaxResponseHeaderBytes.
type headerTooLargeError struct{ limit int64 }

func (e *headerTooLargeError) Error() string {
	return fmt.Sprintf("curlpoll: server response headers exceeded %d bytes; aborted", e.limit)
}

// contextError is why ctx is done, nil if it is not: the cause it was
// given (context.WithCancelCause, WithTimeoutCause), as net/http returns
// it, or else ctx.Err() (the core's Multi does the same).
func contextError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && cause != context.DeadlineExceeded {
		return cause
	}
	return err
}

// requestContext returns the request's context (for the body's reads).
func (c *call) requestContext() context.Context { return c.req.Context() }
