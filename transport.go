package curlpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"
)

// Transport is an http.RoundTripper that runs requests on libcurl, driven by
// the Go runtime's network poller. It is a drop-in replacement for
// net/http's Transport: put it in an http.Client and every request the
// client makes goes through libcurl, with net/http's semantics.
//
// The zero value is ready to use: the first RoundTrip starts a Multi. A
// Transport is safe for concurrent use. Its configuration fields are read
// when a request starts (MaxConnsPerHost, MaxIdleConns and
// MaxIdleConnsPerHost when the Transport starts its Multi, on the first
// request and after CloseIdleConnections): set them before first use.
//
// Redirects, cookies and authentication retries stay the http.Client's job:
// libcurl never follows a redirect here, and only http and https URLs are
// accepted.
//
// What cannot be mapped onto libcurl, and what is done instead:
//   - TLSClientConfig.RootCAs: an x509.CertPool cannot be read back. Use
//     CAFile or CAPEM for curl-native trust roots.
//   - TLSClientConfig.ServerName: libcurl sends SNI and verifies the
//     certificate for the URL's host. A ServerName that differs is honoured
//     by asking libcurl for https://ServerName:port and connecting it to the
//     URL's host and port (CURLOPT_CONNECT_TO), with the Host header kept.
//   - TLSClientConfig.Certificates: the first one is the client certificate.
//     GetClientCertificate, VerifyPeerCertificate, CipherSuites, curve
//     preferences, session caches and KeyLogWriter are not used.
//   - Connection pooling is libcurl's: MaxIdleConns (or, when it is 0,
//     MaxIdleConnsPerHost) bounds the idle connections of the whole pool
//     (CURLMOPT_MAXCONNECTS), not per host; IdleConnTimeout is rounded to
//     whole seconds, and 0 keeps libcurl's 118 seconds.
//   - Request.Trailer is not sent, and 101 Switching Protocols responses
//     have no writable body.
//   - libcurl 7.88 drops the trailers of an HTTP/2 response that has a
//     Content-Length: it ends the transfer at the last byte of the body.
//   - The default User-Agent is "Go-http-client/1.1" on HTTP/2 too (net/http
//     sends ".../2.0" there): the header is built before ALPN decides.
//   - A response body without a Content-Length (chunked) ends only when
//     libcurl's transfer does, which, over HTTP/1.1, is also after the
//     request body has been sent in full. net/http ends it at the last chunk.
//   - Request.GetBody is used when libcurl must send the body again
//     (CURLOPT_SEEKFUNCTION), such as on a reused connection found closed.
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

	// TLSClientConfig configures TLS for https requests: InsecureSkipVerify,
	// ServerName, MinVersion, MaxVersion, Certificates (the first) and
	// NextProtos are honoured; see the type's documentation for the rest.
	// As with net/http, a non-nil TLSClientConfig turns HTTP/2 off unless
	// ForceAttemptHTTP2 is set.
	TLSClientConfig *tls.Config

	// CAFile names a PEM file of certificate authorities to trust for https
	// requests (CURLOPT_CAINFO), in place of libcurl's default CA bundle.
	CAFile string

	// CAPEM holds PEM certificate authorities to trust for https requests
	// and HTTPS proxies (CURLOPT_CAINFO_BLOB), in place of libcurl's default
	// CA bundle and CAFile.
	CAPEM []byte

	// TLSHandshakeTimeout limits the connection phase, TCP connect and TLS
	// handshake together (CURLOPT_CONNECTTIMEOUT_MS). 0 means libcurl's
	// default of 300 seconds.
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
	// hosts (CURLMOPT_MAXCONNECTS). 0 means libcurl's default.
	MaxIdleConns int

	// MaxIdleConnsPerHost is used as MaxIdleConns when that is 0: libcurl
	// has no per-host bound on idle connections.
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
	// request is written). The error's Timeout method reports true.
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

	// mu guards the fields below.
	mu     sync.Mutex
	closed bool
	cur    *multiRef              // where new requests start; nil until needed
	multis map[*multiRef]struct{} // cur and the retired ones still in use
	idle   []*Easy                // handles ready for the next request
	live   map[*call]struct{}     // requests whose response body is open
}

var _ http.RoundTripper = (*Transport)(nil)

// maxIdleEasies bounds the pool of idle easy handles.
const maxIdleEasies = 64

// multiRef is a Multi and the requests that use it. CloseIdleConnections
// retires it: no new request starts on it, and it is closed, with its idle
// connections, when its last request ends.
type multiRef struct {
	m        *Multi
	inflight int
	retired  bool
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

// getEasy takes a handle from the pool or makes one.
func (tr *Transport) getEasy() (*Easy, error) {
	tr.mu.Lock()
	if tr.closed {
		tr.mu.Unlock()
		return nil, errTransportClosed
	}
	if n := len(tr.idle); n > 0 {
		e := tr.idle[n-1]
		tr.idle = tr.idle[:n-1]
		tr.mu.Unlock()
		return e, nil
	}
	tr.mu.Unlock()
	return NewEasy()
}

var errTransportClosed = fmt.Errorf("curlpoll: transport: %w", ErrClosed)

// acquireMulti returns the Multi for a new request, starting one if needed,
// and counts the request on it.
func (tr *Transport) acquireMulti() (*multiRef, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return nil, errTransportClosed
	}
	if tr.cur == nil {
		m, err := NewMulti()
		if err != nil {
			return nil, err
		}
		if err := tr.configureMulti(m); err != nil {
			m.Close()
			return nil, err
		}
		tr.cur = &multiRef{m: m}
		if tr.multis == nil {
			tr.multis = make(map[*multiRef]struct{})
		}
		tr.multis[tr.cur] = struct{}{}
	}
	tr.cur.inflight++
	return tr.cur, nil
}

func (tr *Transport) configureMulti(m *Multi) error {
	if tr.MultiplexHTTP2 && !libcurlMultiplexSafe() {
		if err := m.SetMultiplex(true); err != nil {
			return err
		}
	}
	if tr.MaxConnsPerHost > 0 {
		if err := m.SetMaxHostConnections(tr.MaxConnsPerHost); err != nil {
			return err
		}
	}
	idle := tr.MaxIdleConns
	if idle <= 0 {
		idle = tr.MaxIdleConnsPerHost
	}
	if idle > 0 {
		return m.SetMaxConnects(idle)
	}
	return nil
}

// release gives back what a call that has ended holds, under one lock:
// its Easy, reset, to the pool (or frees it), its count on its Multi
// (closing a retired Multi it was the last user of), and its place among
// the live calls. e and r may be nil.
func (tr *Transport) release(c *call, e *Easy, r *multiRef) {
	if e != nil && e.Reset() != nil {
		e.Close()
		e = nil
	}
	last := false
	tr.mu.Lock()
	if e != nil && !tr.closed && len(tr.idle) < maxIdleEasies {
		tr.idle = append(tr.idle, e)
		e = nil
	}
	if r != nil {
		r.inflight--
		if last = r.retired && r.inflight == 0; last {
			delete(tr.multis, r)
		}
	}
	delete(tr.live, c)
	tr.mu.Unlock()
	if e != nil {
		e.Close()
	}
	if last {
		r.m.Close()
	}
}

// CloseIdleConnections closes the connections that no request is using.
// libcurl has no call for that, so the Transport retires its Multi: new
// requests start on a new one (with new connection, DNS and TLS session
// caches), and the old one is closed when its last request ends.
func (tr *Transport) CloseIdleConnections() {
	tr.mu.Lock()
	r := tr.cur
	tr.cur = nil
	last := false
	if r != nil {
		r.retired = true
		last = r.inflight == 0
		if last {
			delete(tr.multis, r)
		}
	}
	tr.mu.Unlock()
	if last {
		r.m.Close()
	}
}

// Close stops every request in flight (their RoundTrip, or their response
// body's Read, returns an error for which errors.Is(err, ErrClosed) holds),
// closes every connection, frees every libcurl handle and waits for the
// Transport's goroutines to end. Later requests fail with ErrClosed. Close
// is idempotent.
func (tr *Transport) Close() error {
	tr.mu.Lock()
	tr.closed = true
	multis := tr.multis
	tr.multis, tr.cur = nil, nil
	live := tr.live
	tr.live = nil
	idle := tr.idle
	tr.idle = nil
	tr.mu.Unlock()

	for r := range multis {
		r.m.Close()
	}
	for c := range live {
		c.finish()
	}
	for _, e := range idle {
		e.Close()
	}
	return nil
}

// track records a call whose response is returned, so that Close can end it;
// false if the Transport closed meanwhile.
func (tr *Transport) track(c *call) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return false
	}
	if tr.live == nil {
		tr.live = make(map[*call]struct{})
	}
	tr.live[c] = struct{}{}
	return true
}

// call is the state of one request.
type call struct {
	tr   *Transport
	req  *http.Request
	body io.ReadCloser // req.Body, closed once by finish

	e    *Easy
	mr   *multiRef
	t    *Transfer
	obs  *observer // nil without a trace or a Logger
	info *infoBox  // for ResponseInfo, once a response exists

	// cfg and hs are configure's results, and rb the response body: kept
	// here to save allocations (a body keeps its call alive anyway).
	cfg reqConfig
	hs  headerState
	rb  body

	// bodiesMu guards bodies: the request bodies GetBody made for rewinds.
	bodiesMu sync.Mutex
	bodies   []io.ReadCloser

	once sync.Once
}

// finish ends the call: stops the transfer if it still runs, closes the
// request body, and gives the Easy and the Multi back. Safe to call more
// than once, from any goroutine.
func (c *call) finish() {
	c.once.Do(func() {
		if c.t != nil {
			c.t.Close()
			if c.obs != nil {
				c.obs.deliver()
			}
			if c.info != nil {
				c.info.get() // the transfer is over: keep its info, not it
			}
		}
		c.closeRequestBodies()
		c.tr.release(c, c.e, c.mr)
	})
}

func (c *call) closeRequestBodies() {
	if c.body != nil {
		c.body.Close()
	}
	c.bodiesMu.Lock()
	bodies := c.bodies
	c.bodies = nil
	c.bodiesMu.Unlock()
	for _, b := range bodies {
		b.Close()
	}
}

// roundTrip validates the request, starts it and waits for the response's
// header block. On error the caller calls finish.
func (c *call) roundTrip() (*http.Response, error) {
	req := c.req
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
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
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.GetConn != nil {
		trace.GetConn(canonicalAddr(req.URL))
	}
	e, err := c.tr.getEasy()
	if err != nil {
		return nil, err
	}
	c.e = e
	cfg, err := c.configure(proxy)
	if err != nil {
		return nil, err
	}
	if c.mr, err = c.tr.acquireMulti(); err != nil {
		return nil, err
	}
	if c.t, err = c.mr.m.Start(ctx, e); err != nil {
		if errors.Is(err, ErrClosed) {
			err = errTransportClosed
		}
		return nil, err
	}
	if c.obs != nil {
		c.obs.t = c.t
	}
	var headerTimer *time.Timer
	if d := c.tr.ResponseHeaderTimeout; d > 0 {
		t := c.t
		headerTimer = time.AfterFunc(d, func() {
			select {
			case <-t.hdrReady: // too late: the header block is in
			default:
				t.abort(errResponseHeaderTimeout)
			}
		})
	}
	if c.obs != nil {
		c.obs.wait(c.t)
	}
	lines, err := c.t.Header()
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
	resp, err := c.response(lines, cfg)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// transferError turns the error of a transfer that failed before its
// response arrived into what a net/http user can test.
func (c *call) transferError(err error) error {
	// The handle is free once the transfer is closed: read why it failed.
	c.t.Close()
	if errors.Is(err, ErrClosed) {
		return errTransportClosed
	}
	var ce *Error
	if !errors.As(err, &ce) {
		return err // the context's error, or errResponseHeaderTimeout
	}
	if ce.Err != nil {
		var he *headerTooLargeError
		if errors.As(ce.Err, &he) {
			return he
		}
	}
	return wrapCurlError(c.e, c.req, ce)
}

// timeoutError is an error whose Timeout method reports true, for net.Error.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

var errResponseHeaderTimeout error = &timeoutError{"curlpoll: timeout awaiting response headers"}

// headerTooLargeError is the error of a response whose header block is
// larger than MaxResponseHeaderBytes.
type headerTooLargeError struct{ limit int64 }

func (e *headerTooLargeError) Error() string {
	return fmt.Sprintf("curlpoll: server response headers exceeded %d bytes; aborted", e.limit)
}

// requestContext returns the request's context (for the body's reads).
func (c *call) requestContext() context.Context { return c.req.Context() }
