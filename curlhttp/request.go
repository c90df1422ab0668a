package curlhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/curlpoll/curlpoll"
)

// validateRequest refuses what net/http's Transport refuses, with its
// messages, before anything is sent.
func validateRequest(req *http.Request) error {
	u := req.URL
	switch {
	case u == nil:
		return errors.New("http: nil Request.URL")
	case req.Header == nil:
		return errors.New("http: nil Request.Header")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("unsupported protocol scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("http: no Host in request URL")
	case req.Method != "" && !validToken(req.Method):
		return fmt.Errorf("net/http: invalid method %q", req.Method)
	case hasCTLByte(u.RequestURI()):
		// A raw query or an opaque URL is sent as it is: refuse control
		// bytes there before libcurl sees them, as net/http does.
		return errors.New("net/http: can't write control character in Request.URL")
	case req.ContentLength != 0 && req.Body == nil: // NoBody sends 0, as net/http
		// (net/http's HTTP/1 rule; its HTTP/2 path sends such a request)
		return fmt.Errorf("http: Request.ContentLength=%d with nil Body", req.ContentLength)
	}
	if err := validateFields("header", req.Header); err != nil {
		return err
	}
	if err := validateFields("trailer", req.Trailer); err != nil {
		return err
	}
	// net/http sends an empty Host for an invalid one; control bytes, which
	// could split the request, are refused outright here.
	if !validHost(u.Host) || !validHeaderValue(req.Host) || strings.ContainsRune(req.Host, 0x7f) {
		return errors.New("http: invalid Host header")
	}
	return nil
}

// validateFields checks a request's header or trailer fields as net/http's
// Transport does (validateHeaders), with its errors.
func validateFields(what string, h http.Header) error {
	for k, vv := range h {
		if !validToken(k) {
			return fmt.Errorf("net/http: invalid %s field name %q", what, k)
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return fmt.Errorf("net/http: invalid %s field value for %q", what, k)
			}
		}
	}
	return nil
}

// requestTarget is the URL libcurl is asked for: no user info, no
// fragment, the path as it is.
func requestTarget(u *url.URL) string {
	p, _ := targetParts(u.Scheme, u.Host, u.RequestURI())
	return strings.Join(p[:], "")
}

// targetParts returns the URL libcurl is asked for, in pieces for
// optBatch.strParts, from its scheme, host and the request
// target net/http would send (URL.RequestURI), and the target to set
// apart (CURLOPT_REQUEST_TARGET), "" for none. A target that does not
// start with "/" (a relative Path, or an Opaque such as "*" or
// "//host/p") is sent as it is, as net/http sends it, on a URL of path
// "/": glued to the host it would make another URL, even one that names
// another host ("@other/x" turns the host into user info). So is one with
// a '#' (in a raw query or an Opaque, which net/http sends as they are):
// libcurl would take it for a fragment's start and drop the rest.
func targetParts(scheme, host, ruri string) (parts [4]string, target string) {
	if strings.HasPrefix(ruri, "/") && strings.IndexByte(ruri, '#') < 0 {
		return [4]string{scheme, "://", host, ruri}, ""
	}
	return [4]string{scheme, "://", host, "/"}, ruri
}

// hasCTLByte reports whether s has an ASCII control byte (or DEL).
func hasCTLByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}

// validToken reports whether s is an RFC 9110 token: a valid method or
// header field name.
func validToken(s string) bool {
	ok, _ := scanToken(s)
	return ok
}

// tokenBytes marks the bytes of an RFC 9110 token.
var tokenBytes = func() (t [256]bool) {
	for b := range t {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
			t[b] = true
		case strings.IndexByte("!#$%&'*+-.^_`|~", byte(b)) >= 0:
			t[b] = true
		}
	}
	return t
}()

// scanToken reports, in one pass, whether s is a token and whether it is
// already in canonical header form ("Content-Type": a letter upper case at
// the start and after each '-', lower case elsewhere), which spares
// textproto.CanonicalMIMEHeaderKey for the field names most servers send.
func scanToken(s string) (ok, canonical bool) {
	if s == "" {
		return false, false
	}
	canonical = true
	upper := true
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !tokenBytes[b] {
			return false, false
		}
		if upper && 'a' <= b && b <= 'z' || !upper && 'A' <= b && b <= 'Z' {
			canonical = false
		}
		upper = b == '-'
	}
	return true, canonical
}

// validHeaderValue reports whether v has no control bytes other than
// space and tab: no CR, LF or NUL can split or cut a header line.
func validHeaderValue(v string) bool {
	// Eight bytes at a time: a word with no byte below 0x20 and none equal
	// to 0x7f is clean (the classic "has less" and "has zero" tests, exact
	// as yes/no answers); one with a tab, or a bad byte, is looked at byte
	// by byte.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	b := unsafe.Slice(unsafe.StringData(v), len(v))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		del := w ^ (0x7f * ones)
		if (w-0x20*ones)&^w&highs|(del-ones)&^del&highs == 0 {
			continue
		}
		for _, c := range b[i : i+8] {
			if badValueBytes[c] {
				return false
			}
		}
	}
	for _, c := range b[i:] {
		if badValueBytes[c] {
			return false
		}
	}
	return true
}

// badValueBytes marks the bytes a header value may not have: controls but
// tab, and DEL.
var badValueBytes = func() (t [256]bool) {
	for b := range t {
		t[b] = b < ' ' && b != '\t' || b == 0x7f
	}
	return t
}()

// validHost reports whether h has only the bytes net/http allows in a Host
// header (httpguts.ValidHostHeader).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostBytes[h[i]] {
			return false
		}
	}
	return true
}

// hostBytes marks the bytes validHost allows.
var hostBytes = func() (t [256]bool) {
	for b := range t {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
			t[b] = true
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", byte(b)) >= 0:
			t[b] = true
		case b >= 0x80: // UTF-8, as net/http allows before IDNA conversion
			t[b] = true
		}
	}
	return t
}()

// hostHeader returns the Host header net/http would send: req.Host or the
// URL's host, without an IPv6 zone; "" if it is not a valid Host header.
func hostHeader(req *http.Request) string {
	h := req.Host
	if h == "" {
		h = req.URL.Host
	}
	if !validHost(h) {
		return ""
	}
	return removeZone(h)
}

// removeZone removes the zone of an IPv6 literal ("[fe80::1%en0]:80"), as
// RFC 6874 asks of clients.
func removeZone(host string) string {
	if !strings.HasPrefix(host, "[") {
		return host
	}
	i := strings.LastIndex(host, "]")
	if i < 0 {
		return host
	}
	j := strings.LastIndex(host[:i], "%")
	if j < 0 {
		return host
	}
	return host[:j] + host[i:]
}

// tcpKeepAlive is the idle time before the first TCP keep-alive probe, and
// the time between probes, of libcurl's connections: net.Dialer's default,
// which net/http's zero Transport dials with.
const tcpKeepAlive = 15 * time.Second

// reqConfig is what the response side needs to know about the request.
type reqConfig struct {
	head      bool // HEAD: no body will come
	addedGzip bool // the Transport asked for gzip, and decodes it
	rawChunks bool // a chunked response comes as it is, for rawChunked
	hs        *headerState
}

// configure sets the options of c's Easy for its request. The libcurl
// options go in one batch (Easy.apply), in the order listed here.
func (c *call) configure(proxy *url.URL) (*reqConfig, error) {
	req, e, tr := c.req, c.pe.e, c.tr
	u := req.URL
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	cfg := &c.cfg
	*cfg = reqConfig{head: method == http.MethodHead}
	tlsConf := tr.TLSClientConfig
	https := u.Scheme == "https"

	b := batches.Get().(*curlpoll.OptionBatch)
	defer func() {
		b.Reset()
		batches.Put(b)
	}()
	var s setter // the Go-side options
	version := tr.httpVersion(u.Scheme)
	// Request trailers go out after a chunked body, as net/http sends them
	// over HTTP/1.1; libcurl sends none over HTTP/2 or HTTP/3, where
	// net/http would: a request with trailers goes over HTTP/1.1 where ALPN
	// or Alt-Svc would choose, on a connection closed after it (later
	// requests would reuse it, over HTTP/1.1, where they would have had
	// HTTP/2), and fails before anything is sent where the Transport speaks
	// HTTP/2 or HTTP/3 alone.
	var trailerDecl string
	trailersOnH1 := false
	if len(req.Trailer) > 0 && req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		switch {
		case version == curlpoll.HTTPVersion2PriorKnown || version == curlpoll.HTTPVersion3Only,
			https && tr.Protocols != nil && !tr.Protocols.HTTP1():
			return nil, errTrailersNotHTTP1
		case version == curlpoll.HTTPVersion2TLS || version == curlpoll.HTTPVersion3:
			version, trailersOnH1 = curlpoll.HTTPVersion1_1, true
		}
		// Before libcurl 8.7.0 a request with trailers is sent once
		// (Easy.SetTrailerFunc): say so if it would have gone again.
		c.trailersOnce = libcurlVersion().Number < 0x080700 && requestBound(req) != 1
		d, err := trailerDeclaration(req.Trailer)
		if err != nil {
			return nil, err
		}
		trailerDecl = d
	}
	if u.Scheme == "https" && tr.HTTP3 != HTTP3Off && tr.DialContext != nil {
		return nil, errHTTP3Dial
	}
	if u.Scheme == "https" && tr.HTTP3 != HTTP3Off && !libcurlVersion().HTTP3 {
		// Whatever version it comes to (TCP alone for a field Go
		// verifies: httpVersion).
		return nil, fmt.Errorf("curlpoll: Transport.HTTP3 is set, but libcurl %s is built without HTTP/3", libcurlVersion().Version)
	}
	// The options that stay the same from request to request of a kind are
	// set only when the handle was last configured for another kind
	// (pooledEasy): this key says what they depend on.
	key := staticKey{https: https, version: version, tlsConf: tlsConf, caFile: tr.CAFile,
		connectTimeout: tr.TLSHandshakeTimeout, expectTimeout: tr.ExpectContinueTimeout,
		idleTimeout: tr.IdleConnTimeout, multiplex: tr.MultiplexHTTP2, dial: tr.DialContext != nil}
	if len(tr.CAPEM) > 0 {
		key.caPEM, key.caPEMLen = &tr.CAPEM[0], len(tr.CAPEM)
	}
	if proxy != nil {
		key.proxy = *proxy
	}

	// The URL libcurl sees carries no user info (a bare net/http Transport
	// ignores it too) and no fragment; its path goes out as it is.
	var connectTo [2]string
	var dyn perRequest
	if https && tlsConf != nil && tlsConf.ServerName != "" && tlsConf.ServerName != u.Hostname() {
		// SNI and certificate name come from the URL: name ServerName there,
		// and connect it to the real host.
		port := u.Port()
		if port == "" {
			port = "443"
		}
		sn := net.JoinHostPort(tlsConf.ServerName, port)
		connectTo = [2]string{sn, net.JoinHostPort(u.Hostname(), port)}
		key.connectTo = connectTo
		dyn.url, dyn.target = targetParts("https", sn, u.RequestURI())
	} else {
		dyn.url, dyn.target = targetParts(u.Scheme, u.Host, u.RequestURI())
	}
	var dialResolve string // CURLOPT_RESOLVE's entry for DialContext's host, if any
	if tr.DialContext != nil && proxy == nil {
		if connectTo[0] == "" {
			// DialContext connects to the host: libcurl looks up no
			// name, and connects to the relay (curlpoll.Easy.SetDialFunc)
			// by this address, any host and port to 127.0.0.1
			// ("::127.0.0.1:"). Its connections are still told apart by
			// the URL's host and port, which are DialContext's address.
			connectTo = [2]string{":", "127.0.0.1:"}
			key.connectTo = connectTo
		} else if h := u.Hostname(); !isIPLiteral(h) {
			// The URL names ServerName, connected to the real host
			// (above): libcurl tells its connections apart by that host
			// (CONNECT_TO's), which DialContext is asked for, and looks
			// it up in no resolver. ("::127.0.0.1:" would give the hosts
			// that share a ServerName one another's connections.)
			port := u.Port()
			if port == "" {
				port = "443"
			}
			dialResolve = h + ":" + port + ":127.0.0.1"
		}
	}
	static := !c.pe.keyed || c.pe.key != key
	if static && c.pe.keyed {
		c.pe.forget()
		if err := e.Reset(); err != nil {
			return nil, err
		}
	}
	if static {
		if connectTo[0] != "" {
			b.List(optConnectTo)
			b.ListItem(connectTo[0], ":", connectTo[1])
		}
		if dialResolve != "" {
			b.List(optResolve, dialResolve)
		}
		if !key.dial {
			// libcurl's own connections have TCP keep-alive probes, as
			// net/http's dialer gives its connections (net.Dialer's
			// default: after 15 s idle, every 15 s), so that a
			// request waiting on a peer gone without a reset (a watch
			// whose host was powered off) fails rather than hang for
			// ever. DialContext's connections are its own to configure.
			b.Bool(optTCPKeepalive, true)
			b.Long(optTCPKeepidle, int64(tcpKeepAlive/time.Second))
			b.Long(optTCPKeepintvl, int64(tcpKeepAlive/time.Second))
		}
		b.Bool(optPathAsIs, true)
		b.Str(optProtocolsStr, "http,https")
		b.Str(optRedirProtocolsStr, "http,https")
		b.Long(optHTTPVersion, int64(version))
		if curlpoll.MultiplexSafe() || tr.MultiplexHTTP2 {
			// Multiplexing is on: wait for a connection to multiplex on
			// rather than open another.
			b.Bool(optPipewait, true)
		}
	}

	// Method and body.
	hasBody := req.Body != nil && req.Body != http.NoBody
	// Every Read of the body goes through c.guard, so that finish closes
	// it after the last one.
	c.guard.r = req.Body
	var bodyReader io.Reader = &c.guard
	if hasBody && req.ContentLength > 0 && req.GetBody != nil && inMemoryLen(req.Body) == 0 {
		// A body held in memory and read to its end already: this
		// request was sent before (an http.RoundTripper that sends the
		// same *http.Request again after a 401 or a 503, as
		// go-containerregistry's do). net/http's writer fails such a
		// body before a byte goes out, and its Transport then sends the
		// request again with a body from GetBody (rewindBody): on a
		// kept-alive connection, where it retries what was not written.
		// Here the body comes from GetBody at once.
		b, err := c.getBody()
		if err != nil {
			return nil, err
		}
		bodyReader = b
	}
	if hasBody && req.ContentLength == 0 && usuallyLacksBody(method) {
		bodyReader, hasBody = probeBody(bodyReader)
	}
	// NOBODY, POST and the body's size, for this request whatever the
	// previous one on the handle set (dyn, set below).
	dyn.method.nobody = cfg.head
	post := false // libcurl sends a POST: it would add Expect and Content-Type
	switch {
	case cfg.head:
		dyn.method.postSize = -1
	case hasBody:
		n := req.ContentLength
		if n <= 0 {
			n = -1 // unknown: chunked on HTTP/1.1
		}
		post = true
		dyn.method.postSize = n
		if n > 0 {
			bodyReader = &exactLength{r: bodyReader, n: n}
		}
		s.do(e.SetReader(bodyReader))
		if req.GetBody != nil {
			s.do(e.SetRewind(c.rewind))
		}
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		// net/http sends "Content-Length: 0" for these: a POST of size 0,
		// with nothing to read.
		post = true
		dyn.method.postSize = 0
	default:
		dyn.method.postSize = -1
	}
	if !hasBody || dyn.method.postSize != -1 {
		trailerDecl, c.trailersOnce = "", false // no chunked body, no trailers (net/http's rule)
	} else if trailerDecl != "" {
		c.extras = true // the handle is reset after the request
		s.do(e.SetTrailerFunc(c.trailerLines))
	}
	// The method: libcurl's own for these options (NOBODY: HEAD, POST:
	// POST, neither: GET) needs no custom request string (NULL); any other
	// is sent as it is.
	derived := http.MethodGet
	switch {
	case cfg.head:
		derived = http.MethodHead
	case post:
		derived = http.MethodPost
	}
	if method != derived {
		dyn.method.customRequest = method
	}
	// A request with a body takes a chunked response as it comes, chunk
	// framing and all (CURLOPT_HTTP_TRANSFER_DECODING off), and decodes it
	// itself: over HTTP/1.1 libcurl ends the transfer only once the request
	// body is sent in full, and a response that comes first would
	// otherwise end only then, where net/http's ends at its last chunk.
	// libcurl still follows the chunks to find the response's end.
	cfg.rawChunks = hasBody
	dyn.method.post, dyn.method.rawChunks = post, cfg.rawChunks
	s.do(e.SetMaxRequests(requestBound(req)))

	cfg.addedGzip = !tr.DisableCompression && headerValue(req.Header, "Accept-Encoding") == "" &&
		headerValue(req.Header, "Range") == "" && !cfg.head
	closeConn := tr.DisableKeepAlives || req.Close
	// The default User-Agent names the protocol, as net/http's does. When
	// ALPN decides between HTTP/1.1 and HTTP/2, the pre-request function
	// sets it once the connection is known (c.prereq); where it cannot
	// read the connection's TLS state, it stays "Go-http-client/1.1".
	ua := "Go-http-client/1.1"
	if version == curlpoll.HTTPVersion2PriorKnown {
		ua = "Go-http-client/2.0"
	}
	if _, set := req.Header["User-Agent"]; !set && https && version == curlpoll.HTTPVersion2TLS &&
		curlpoll.TLSStateSupported() && libcurlVersion().Number >= 0x075000 {
		// The list has the handle's last one, which the pre-request
		// function corrects if the connection's protocol calls for the
		// other: the list stays the same while it does not.
		c.uaByALPN = true
		if c.pe.uaGuess != "" {
			ua = c.pe.uaGuess
		}
		c.uaGuess, c.uaInList = ua, ua
	}
	lines := nulLines{c.pe.next[:0]}
	forwarded := proxy != nil && !https && (proxy.Scheme == "http" || proxy.Scheme == "https")
	writeHeaderLines(&lines, req, headerOpts{addGzip: cfg.addedGzip, closeConn: closeConn, post: post, ua: ua, trailer: trailerDecl, forwarded: forwarded})
	c.pe.next = lines.b
	sameHeaders := !static && c.pe.hdrsOK && bytes.Equal(lines.b, c.pe.hdrs)
	if !sameHeaders {
		b.List(optHTTPHeader)
		for l := lines.b; len(l) > 0; {
			i := bytes.IndexByte(l, 0)
			// ListItem copies the line: it may alias next until then.
			b.ListItem(unsafe.String(&l[0], i))
			l = l[i+1:]
		}
	}
	// libcurl before 8.0.0 fails every request on a reused prior-knowledge
	// connection with CURLE_HTTP2 (curl#10634): use each h2c connection
	// once.
	dyn.method.forbidReuse = closeConn || trailersOnH1 ||
		version == curlpoll.HTTPVersion2PriorKnown && curlpoll.PriorKnowledgeReuseBroken()
	// What changes per request goes to libcurl only if it differs from
	// what the handle's previous request set (pooledEasy.dyn).
	dynKnown := !static && c.pe.dynOK
	if !dynKnown || dyn.url != c.pe.dyn.url {
		b.StrParts(optURL, dyn.url[:]...)
	}
	if !dynKnown || dyn.target != c.pe.dyn.target {
		b.Str(optRequestTarget, dyn.target) // "": NULL, the URL's path
	}
	if !dynKnown || dyn.method != c.pe.dyn.method {
		m := &dyn.method
		b.Bool(optNobody, m.nobody)
		b.Bool(optPost, m.post)
		b.Offset(optPostfieldsizeLarge, m.postSize)
		b.Str(optCustomrequest, m.customRequest) // "": NULL, libcurl's own method
		b.Bool(optHTTPTransferDecoding, !m.rawChunks)
		b.Bool(optForbidReuse, m.forbidReuse)
	}

	// The static options below go to b only when the handle needs them
	// (static); their checks run for every request.
	sb := b
	if !static {
		sb = batches.Get().(*curlpoll.OptionBatch)
		defer func() {
			sb.Reset()
			batches.Put(sb)
		}()
	}

	// TLS. Verification is libcurl's default; Go's default floor is TLS 1.2.
	var verifier *tlsVerifier
	if https || (proxy != nil && proxy.Scheme == "https") {
		// A field that cannot be honoured fails the request here, before
		// anything is sent, rather than be dropped.
		if err := checkTLSConfig(tlsConf, proxy, version); err != nil {
			return nil, err
		}
		if https && needsGoVerify(tlsConf) {
			// Go verifies the peer, in the pre-request callback (set
			// below), for every request: libcurl does not, and no session
			// is resumed, as a resumed one has no chain to verify.
			v, err := tr.verifier()
			if err != nil {
				return nil, err
			}
			verifier = v
			sb.Bool(optSslVerifypeer, false)
			sb.Long(optSslVerifyhost, 0)
			sb.Bool(optSslSessionidCache, false)
		}
		// net/http applies TLSClientConfig to an HTTPS proxy's connection
		// too: its version bounds, client certificate and
		// InsecureSkipVerify go to libcurl's PROXY_ options as well.
		proxyTLS := proxy != nil && proxy.Scheme == "https"
		minV, maxV := uint16(tls.VersionTLS12), uint16(0)
		if tlsConf != nil {
			// checkTLSConfig has refused what these cannot map.
			if list, _ := cipherList(tlsConf); list != "" {
				if https {
					sb.Str(optSslCipherList, list)
				}
				if proxy != nil && proxy.Scheme == "https" {
					sb.Str(optProxySslCipherList, list)
				}
			}
			if list, _ := curveList(tlsConf, false); list != "" && https {
				sb.Str(optSslEcCurves, list)
			}
			if tlsConf.InsecureSkipVerify {
				sb.Bool(optSslVerifypeer, false)
				sb.Long(optSslVerifyhost, 0)
				if proxyTLS {
					sb.Bool(optProxySslVerifypeer, false)
					sb.Long(optProxySslVerifyhost, 0)
				}
			}
			if tlsConf.SessionTicketsDisabled {
				sb.Bool(optSslSessionidCache, false)
			}
			if tlsConf.MinVersion != 0 {
				minV = tlsConf.MinVersion
			}
			maxV = tlsConf.MaxVersion
			if get := tlsConf.GetClientCertificate; get != nil {
				// Asked of Go when the server (or an HTTPS proxy) asks for
				// a certificate; crypto/tls ignores Certificates then. No
				// session is resumed, as crypto/tls resumes none without a
				// ClientSessionCache: a resumed one carries the identity
				// of an earlier handshake, the function not asked.
				if tlsConf.ClientSessionCache == nil {
					sb.Bool(optSslSessionidCache, false)
				}
				if static {
					s.do(e.SetClientCertFunc(func(_ *curlpoll.Transfer, info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
						return get(info)
					}))
				}
			} else if len(tlsConf.Certificates) > 0 {
				cert, key, err := certificatePEM(&tlsConf.Certificates[0])
				if err != nil {
					return nil, err
				}
				sb.Str(optSslcerttype, "PEM")
				sb.Blob(optSslcertBlob, cert)
				sb.Blob(optSslkeyBlob, key)
				if proxyTLS {
					sb.Str(optProxySslcerttype, "PEM")
					sb.Blob(optProxySslcertBlob, cert)
					sb.Blob(optProxySslkeyBlob, key)
				}
			}
		}
		sb.Long(optSslversion, tlsVersions(minV, maxV))
		if proxyTLS {
			sb.Long(optProxySslversion, tlsVersions(minV, maxV))
		}
		switch {
		case verifier != nil:
			// Go verifies with CAPEM or CAFile itself: libcurl needs
			// neither (and on GnuTLS has no CURLOPT_CAINFO_BLOB).
		case tr.CAPEM != nil:
			sb.Blob(optCainfoBlob, tr.CAPEM)
		case tr.CAFile != "":
			sb.Str(optCainfo, tr.CAFile)
		}
	}

	// Proxy: exactly the one Proxy chose; libcurl reads no environment.
	if proxy != nil && hostHeader(req) == "" {
		return nil, errors.New("http: invalid Host header")
	}
	if proxy != nil {
		p := *proxy
		switch p.Scheme {
		case "http", "https", "socks5h":
		case "socks5":
			// Go's SOCKS5 dialer sends the host name to the proxy.
			p.Scheme = "socks5h"
		default:
			return nil, fmt.Errorf("curlpoll: unsupported proxy scheme %q", proxy.Scheme)
		}
		if tr.DialContext != nil {
			// DialContext connects to the proxy: libcurl keeps its name
			// and port (net/http's default port), by which it tells its
			// connections apart (a proxy must not get another's) and
			// verifies an HTTPS one, and looks the name up in no
			// resolver: 127.0.0.1, which the relay replaces anyway.
			h, port, _ := net.SplitHostPort(proxyAddr(proxy))
			p.Host = net.JoinHostPort(h, port)
			if !isIPLiteral(h) {
				sb.List(optResolve, h+":"+port+":127.0.0.1")
			}
		}
		sb.Str(optProxy, p.String())
		if https && (p.Scheme == "http" || p.Scheme == "https") {
			// The CONNECT's fields (CURLOPT_PROXYHEADER, libcurl's
			// default CURLHEADER_SEPARATE): net/http's has the default
			// User-Agent, which libcurl sends only with
			// CURLOPT_USERAGENT, and no "Proxy-Connection: Keep-Alive",
			// which libcurl adds.
			sb.List(optProxyheader, "Proxy-Connection:", "User-Agent: Go-http-client/1.1")
		}
		// An empty (not NULL) CURLOPT_NOPROXY: the proxy is for every host,
		// whatever NO_PROXY says.
		sb.EmptyStr(optNoproxy)
		// The proxy's certificate authorities are the request's, as
		// net/http verifies an HTTPS proxy with TLSClientConfig.RootCAs.
		if p.Scheme == "https" {
			switch {
			case tr.CAPEM != nil:
				sb.Blob(optProxyCainfoBlob, tr.CAPEM)
			case tr.CAFile != "":
				sb.Str(optProxyCainfo, tr.CAFile)
			}
		}
	} else {
		sb.Str(optNoproxy, "*")
	}

	// Time limits, as SetConnectTimeout, SetExpect100Timeout and
	// SetMaxAgeConn set them.
	if d := tr.TLSHandshakeTimeout; d > 0 && tr.DialContext == nil {
		// (With DialContext libcurl's connection phase would count the
		// dial: a timer counts the handshake alone, armHandshakeTimer.)
		sb.Long(optConnecttimeoutMs, d.Milliseconds())
	}
	sb.Long(optExpect100TimeoutMs, tr.ExpectContinueTimeout.Milliseconds())
	if d := tr.IdleConnTimeout; d > 0 {
		sb.Long(optMaxageConn, max(int64(d/time.Second), 1))
	}
	if static && (https || proxy != nil && proxy.Scheme == "https") {
		if err := setRenegotiation(e, tlsConf); err != nil {
			c.pe.forget()
			return nil, err
		}
	}
	if err := e.Apply(b); err != nil {
		c.pe.forget()
		return nil, err
	}
	if static {
		c.pe.key, c.pe.keyed = key, true
	}
	if !sameHeaders {
		c.pe.hdrs, c.pe.next, c.pe.hdrsOK = c.pe.next, c.pe.hdrs, true
	}
	c.pe.dyn, c.pe.dynOK = dyn, true

	// The header function counts header bytes and reads the TLS state.
	limit := tr.MaxResponseHeaderBytes
	if limit <= 0 {
		limit = 10 << 20
	}
	c.hs = headerState{limit: limit, https: https}
	cfg.hs = &c.hs
	proxyHost := ""
	if proxy != nil {
		proxyHost = proxy.Hostname()
	}
	if c.obs = newObserver(tr, req, proxyHost, hasBody); c.obs != nil {
		c.extras = true
		s.do(c.obs.install(e))
	}
	c.verifier = verifier
	if p := progressFrom(req.Context()); p != nil && p.fn != nil {
		c.extras = true
		s.do(e.SetProgressInterval(p.every))
		s.do(e.SetProgressFunc(p.fn))
	}
	if verifier != nil {
		c.extras = true
	}
	// The functions are the handle's, and run the call's (pooledEasy.cur):
	// set once, not per request, and the pre-request function turned on
	// and off (in libcurl) only when a request's need differs from the
	// previous one's.
	c.pe.cur = c
	if want := c.uaByALPN || verifier != nil || c.obs != nil && c.obs.trace != nil || tr.DialContext != nil && tr.TLSHandshakeTimeout > 0; want != c.pe.prereqOn {
		if want {
			s.do(e.SetPrereqFunc(c.pe.prereqFunc()))
		} else {
			s.do(e.SetPrereqFunc(nil))
		}
		c.pe.prereqOn = want
	}
	if tr.DialContext != nil {
		addr := canonicalAddr(u)
		if proxy != nil {
			addr = proxyAddr(proxy)
		}
		dial, obs, hsTimeout := tr.DialContext, c.obs, time.Duration(0)
		if https || proxy != nil && proxy.Scheme == "https" {
			hsTimeout = tr.TLSHandshakeTimeout
		}
		s.do(e.SetDialFunc(func(ctx context.Context, network, _ string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if obs != nil {
				obs.dialReturned(conn)
			}
			if err == nil && hsTimeout > 0 {
				c.armHandshakeTimer(hsTimeout)
			}
			return conn, err
		}))
	}
	if !c.pe.headerOn {
		s.do(e.SetInlineHeaderFunc(c.pe.headerFunc()))
		c.pe.headerOn = true
	}
	if s.err != nil {
		c.pe.forget()
		return nil, s.err
	}
	return cfg, nil
}

// prereq is the request's pre-request function, run inside libcurl once
// the connection is ready: it sets the User-Agent that the negotiated
// protocol calls for (uaByALPN), has Go verify the peer (verifier), and
// tells the trace about the connection.
func (c *call) prereq(t *curlpoll.Transfer, ci curlpoll.ConnInfo) error {
	c.handshook.Store(true)
	c.stopHandshakeTimer()
	if c.uaByALPN {
		// The TLS state, for the User-Agent and for Response.TLS.
		c.hs.tls, c.hs.gotTLS = t.TLSState(), true
		ua := "Go-http-client/1.1"
		if c.hs.tls.NegotiatedProtocol() == "h2" {
			ua = "Go-http-client/2.0"
		}
		// Replaced, not added: libcurl runs this again when it retries
		// the request on a new connection (a reused one found dead).
		if ua != c.uaInList {
			if err := t.SetRequestHeader("User-Agent: " + ua); err != nil {
				return err
			}
			c.uaInList = ua
		}
	}
	if c.verifier != nil {
		if err := c.verifier.verify(t, c.serverName()); err != nil {
			return err
		}
	}
	if c.obs != nil && c.obs.trace != nil {
		return c.obs.onPrereq(t, ci)
	}
	return nil
}

// armHandshakeTimer bounds the TLS handshake on a connection DialContext
// has just made, as TLSHandshakeTimeout does net/http's: libcurl's own
// bound (CURLOPT_CONNECTTIMEOUT_MS) would count the dial too, since
// libcurl connects to the dial's relay at once. The handshake is over
// when the pre-request function runs.
func (c *call) armHandshakeTimer(d time.Duration) {
	c.handshook.Store(false)
	tm := time.AfterFunc(d, func() {
		if t := c.started.Load(); t != nil && !c.handshook.Load() {
			t.Abort(errTLSHandshakeTimeout) // nothing if the transfer is over
		}
	})
	if old := c.hsTimer.Swap(tm); old != nil {
		old.Stop()
	}
	if c.hsOver.Load() { // a dial that returned after the call's end
		c.stopHandshakeTimer()
	}
}

// stopHandshakeTimer stops armHandshakeTimer's timer, if one runs.
func (c *call) stopHandshakeTimer() {
	if c.hsTimer.Load() == nil {
		return
	}
	if tm := c.hsTimer.Swap(nil); tm != nil {
		tm.Stop()
	}
}

// errTLSHandshakeTimeout is a timeout (net.Error) but, unlike
// errResponseHeaderTimeout, not context.DeadlineExceeded for errors.Is:
// net/http's tlsHandshakeTimeoutError is not either, and code retries a
// timeout that is not a deadline (go-containerregistry's retry.IsTemporary).
var errTLSHandshakeTimeout error = handshakeTimeoutError{}

type handshakeTimeoutError struct{}

func (handshakeTimeoutError) Error() string   { return "curlpoll: TLS handshake timeout" }
func (handshakeTimeoutError) Timeout() bool   { return true }
func (handshakeTimeoutError) Temporary() bool { return true }

// errHTTP3Dial refuses HTTP/3 with DialContext: QUIC connections are
// libcurl's alone.
var errHTTP3Dial = errors.New("curlpoll: Transport.HTTP3 cannot be used with DialContext: libcurl makes QUIC connections itself")

// isIPLiteral says whether host is an IP address, which libcurl looks up
// in no resolver.
func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// proxyAddr is the host and port of proxy, with net/http's default ports.
func proxyAddr(proxy *url.URL) string {
	port := proxy.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[proxy.Scheme]
	}
	return net.JoinHostPort(proxy.Hostname(), port)
}

// errTrailersNotHTTP1 refuses a request with trailers where the Transport
// speaks HTTP/2 or HTTP/3 alone (Protocols, HTTP3Only).
var errTrailersNotHTTP1 = errors.New("curlpoll: libcurl sends request trailers only after a chunked body over HTTP/1.1, and this Transport speaks only HTTP/2 or HTTP/3 to this URL")

// trailerDeclaration is the Trailer field net/http sends before a body
// with trailers: the names, canonical, sorted, comma-separated; the three
// that may not be trailers are refused with net/http's error.
func trailerDeclaration(trailer http.Header) (string, error) {
	keys := make([]string, 0, len(trailer))
	for k := range trailer {
		k = http.CanonicalHeaderKey(k)
		switch k {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return "", fmt.Errorf("invalid Trailer key %q", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ","), nil
}

// newlineToSpace is net/http's headerNewlineToSpace.
var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// trailerLines is the request's trailer function (Easy.SetTrailerFunc): the
// fields of req.Trailer once the body has ended (its reader may set them
// until then), as net/http writes them: names sorted, a line per value,
// line breaks in a value made spaces and the value trimmed.
func (c *call) trailerLines(*curlpoll.Transfer) ([]string, error) {
	keys := slices.Sorted(maps.Keys(c.req.Trailer))
	var lines []string
	for _, k := range keys {
		for _, v := range c.req.Trailer[k] {
			v = textproto.TrimString(newlineToSpace.Replace(v))
			lines = append(lines, k+": "+v)
		}
	}
	return lines, nil
}

// requestBound is how many times libcurl may send req (Easy.SetMaxRequests;
// 0: as often as it would). libcurl sends a request again on a new
// connection when a reused one closed before any of the response; net/http
// does so only for a request it may repeat (replayable), and sends any
// other once. libcurl also answers a 417 to a request that asks for
// "100-continue" by sending it again, with the caller's Expect line still
// in it, and again, where net/http returns the 417: such a request, if
// replayable, may go out twice (a retry, or once after a 417).
//
// On HTTP/2 net/http sends any request again after the server refused its
// stream (REFUSED_STREAM, or above a GOAWAY's last stream): libcurl does so
// too, but does not tell that apart from a connection lost after the
// request went out, so a request that is not replayable fails there.
func requestBound(req *http.Request) int {
	switch {
	case !replayable(req):
		return 1
	case asksContinue(req):
		return 2
	}
	return 0
}

// replayable is net/http's Request.isReplayable: a GET, HEAD, OPTIONS or
// TRACE, or a request with an Idempotency-Key, whose body is none or one
// that GetBody makes again.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// asksContinue reports whether req's Expect field holds "100-continue", as
// net/http's Request.expectsContinue reads it.
func asksContinue(req *http.Request) bool {
	v := headerValue(req.Header, "Expect")
	for v != "" {
		var tok string
		tok, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(tok), "100-continue") {
			return true
		}
	}
	return false
}

// exactLength reads a request body of declared length n (ContentLength)
// and fails, as net/http's request writer does, when it holds fewer bytes
// or more: a shorter one at its end, which libcurl on 7.88 would wait for,
// a longer one at the read after its n-th byte, which the core's pump
// makes (it reads ahead of libcurl, which stops at n bytes) and which
// fails the transfer. The rest of a longer body is read to count it, as
// net/http does.
type exactLength struct {
	r      io.Reader
	n, got int64
	err    error
}

func (x *exactLength) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	k, err := x.r.Read(p)
	x.got += int64(k)
	switch {
	case x.got > x.n:
		return 0, x.fail()
	case x.got < x.n:
		if err == io.EOF {
			return 0, x.fail()
		}
		return k, err
	}
	// All n bytes are in, or io.EOF or the body's error with them: libcurl
	// has them at once (a reader that ends only once the response is in
	// must not hold back the last byte); the next read looks for more.
	return k, err
}

// fail counts what is left of a longer body and returns net/http's error.
func (x *exactLength) fail() error {
	if x.got > x.n {
		rest, _ := io.Copy(io.Discard, x.r)
		x.got += rest
	}
	x.err = &bodyLengthError{declared: x.n, actual: x.got}
	return x.err
}

// bodyLengthError is net/http's error for a request body whose length is
// not its ContentLength.
type bodyLengthError struct{ declared, actual int64 }

func (e *bodyLengthError) Error() string {
	return fmt.Sprintf("http: ContentLength=%d with Body length %d", e.declared, e.actual)
}

// usuallyLacksBody lists the methods for which net/http probes a body of
// unknown length before deciding to send it chunked.
func usuallyLacksBody(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH":
		return true
	}
	return false
}

// probeBody reads the first byte of a body of unknown length, as net/http
// does for the methods that usually lack one: an empty body is sent as none. It waits at most
// 200 ms; a slower body is sent chunked, starting with the byte once read.
// The probing goroutine ends with the body's first Read, or when the body
// is closed.
func probeBody(body io.Reader) (io.Reader, bool) {
	ch := make(chan probeResult, 1)
	go func() {
		var r probeResult
		r.n, r.err = body.Read(r.b[:])
		ch <- r
	}()
	timer := time.NewTimer(200 * time.Millisecond)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.n == 0 && r.err == io.EOF {
			return nil, false
		}
		return r.reader(body), true
	case <-timer.C:
		return &probedBody{ch: ch, body: body}, true
	}
}

// probeResult is the first Read of a probed body.
type probeResult struct {
	b   [1]byte
	n   int
	err error
}

// reader returns the whole body: the probed byte, then the rest.
func (r probeResult) reader(body io.Reader) io.Reader {
	switch {
	case r.n == 1 && r.err != nil:
		return io.MultiReader(bytes.NewReader(r.b[:]), errReader{r.err})
	case r.n == 1:
		return io.MultiReader(bytes.NewReader(r.b[:]), body)
	case r.err != nil:
		return errReader{r.err}
	}
	return body
}

// probedBody is a body whose probe was too slow: its first Read waits for
// the probe's result.
type probedBody struct {
	ch   <-chan probeResult
	body io.Reader
	r    io.Reader
}

func (p *probedBody) Read(b []byte) (int, error) {
	if p.r == nil {
		p.r = (<-p.ch).reader(p.body)
	}
	return p.r.Read(b)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// setter keeps the first error of a sequence of option calls.
type setter struct{ err error }

func (s *setter) do(err error) {
	if s.err == nil {
		s.err = err
	}
}

// rewind gives libcurl the request body again, from GetBody; runs inside
// libcurl's seek callback.
// errRequestEnded is what a rewind gets that comes after the request
// ended: no transfer reads it.
var errRequestEnded = errors.New("curlhttp: the request ended")

func (c *call) rewind() (io.Reader, error) {
	b, err := c.getBody()
	if err != nil {
		return nil, err
	}
	if n := c.req.ContentLength; n > 0 {
		return &exactLength{r: b, n: n}, nil
	}
	return b, nil
}

// getBody returns a new copy of the request body from GetBody, to be
// closed with the request's (closeRequestBodies).
func (c *call) getBody() (io.Reader, error) {
	b, err := c.req.GetBody()
	if err != nil {
		return nil, err
	}
	g := &readGuard{r: b}
	c.bodiesMu.Lock()
	closed := c.bodiesClosed
	if !closed {
		c.bodies = append(c.bodies, guardedBody{b, g})
	}
	c.bodiesMu.Unlock()
	if closed { // a rewind's pump that started as the request ended
		b.Close()
		return nil, errRequestEnded
	}
	if n := c.req.ContentLength; n > 0 {
		return &exactLength{r: g, n: n}, nil
	}
	return g, nil
}

// readGuard stands between a request body and the goroutines that read it
// for libcurl (curlpoll's reader, probeBody's probe), so that the body is
// closed after its last Read, as net/http closes it: a Read under way
// when the request ends (the reader reads ahead of libcurl, and a server
// may answer before it has the body) is waited for before Close, for a
// while (closeAfterReads), and none starts after. http.RoundTripper lets a
// caller reuse the body once Close is called; otelhttp counts the bytes
// sent when it is.
type readGuard struct {
	r       io.Reader
	mu      sync.Mutex
	reading int           // Reads under way
	stopped bool          // no Read starts
	ended   bool          // a Read returned an error (io.EOF included): the reader reads no more
	idle    chan struct{} // made by stop while a Read is under way, closed when none is
}

func (g *readGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return 0, errRequestEnded
	}
	g.reading++
	g.mu.Unlock()
	n, err := g.r.Read(p)
	g.mu.Lock()
	if err != nil {
		g.ended = true
	}
	if g.reading--; g.reading == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
	return n, err
}

// stop keeps Reads from starting and returns a channel closed once none is
// under way, nil if none is.
func (g *readGuard) stop() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if g.reading == 0 {
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}

// readToEnd reports whether a Read of the body returned an error (io.EOF
// included) and none is under way: no one reads it again.
func (g *readGuard) readToEnd() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ended && g.reading == 0
}

// notReading reports whether no Read is under way.
func (g *readGuard) notReading() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reading == 0
}

// guardedBody is a body GetBody made, and its guard.
type guardedBody struct {
	rc io.ReadCloser
	g  *readGuard
}

// closeReadWait bounds how long closeRequestBodies (on a goroutine of its
// own, so that finish does not wait) waits for a Read of a request body
// that is under way before it closes the body all the same: a Read that
// blocks (a pipe whose writer waits for the response) may need the Close
// to return. net/http's HTTP/2 client closes such a body at once; its
// HTTP/1 client waits for the Read, however long.
const closeReadWait = 50 * time.Millisecond

// closeAfterReads closes body once no Read of it is under way (g's), or
// once the time to wait (from *deadline, set by the first wait) is over.
func closeAfterReads(body io.Closer, g *readGuard, deadline *time.Time) {
	if idle := g.stop(); idle != nil {
		if deadline.IsZero() {
			*deadline = time.Now().Add(closeReadWait)
		}
		if d := time.Until(*deadline); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-idle:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	body.Close()
}

// inMemoryLen is what is left to read of a body that net/http knows to
// be in memory (isKnownInMemoryReader): a *bytes.Reader, *bytes.Buffer or
// *strings.Reader, bare or in io.NopCloser (as http.NewRequest puts it);
// -1 for any other.
func inMemoryLen(r io.Reader) int {
	for {
		switch b := r.(type) {
		case *bytes.Reader:
			return b.Len()
		case *bytes.Buffer:
			return b.Len()
		case *strings.Reader:
			return b.Len()
		}
		if t := reflect.TypeOf(r); t != nopCloserType && t != nopCloserWriterToType {
			return -1
		}
		r = reflect.ValueOf(r).Field(0).Interface().(io.Reader)
	}
}

// The types io.NopCloser returns, as net/http tells them (unwrapNopCloser).
var (
	nopCloserType         = reflect.TypeOf(io.NopCloser(nil))
	nopCloserWriterToType = reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{}))
)

// httpVersion picks the HTTP version to ask libcurl for, following
// net/http's rules for when HTTP/2 is on.
func (tr *Transport) httpVersion(scheme string) curlpoll.HTTPVersion {
	h2 := true
	if p := tr.Protocols; p != nil {
		if scheme == "http" && p.UnencryptedHTTP2() && !p.HTTP1() {
			return curlpoll.HTTPVersion2PriorKnown
		}
		h2 = p.HTTP2()
	} else {
		if tr.TLSClientConfig != nil && !tr.ForceAttemptHTTP2 {
			h2 = false
		}
		if tr.TLSNextProto != nil {
			if _, ok := tr.TLSNextProto["h2"]; !ok {
				h2 = false
			}
		}
	}
	if c := tr.TLSClientConfig; c != nil && len(c.NextProtos) > 0 && !slices.Contains(c.NextProtos, "h2") {
		h2 = false
	}
	switch {
	case scheme == "https" && tr.HTTP3 == HTTP3Only:
		return curlpoll.HTTPVersion3Only
	case scheme == "https" && tr.HTTP3 == HTTP3Attempt && !needsGoVerify(tr.TLSClientConfig):
		// Go cannot verify a QUIC connection (checkTLSConfig): with
		// fields only Go verifies, the attempt is TCP's alone.
		return curlpoll.HTTPVersion3
	case scheme == "https" && h2:
		return curlpoll.HTTPVersion2TLS
	}
	return curlpoll.HTTPVersion1_1
}

// headerLineWriter takes request header lines, name+sep+value each.
type headerLineWriter interface {
	item(name, sep, value string)
}

// lineSlice collects header lines as strings.
type lineSlice []string

func (l *lineSlice) item(name, sep, value string) { *l = append(*l, name+sep+value) }

// requestHeaderLines returns the lines writeHeaderLines writes.
func requestHeaderLines(req *http.Request, addGzip, closeConn, post bool) []string {
	var lines lineSlice
	writeHeaderLines(&lines, req, headerOpts{addGzip: addGzip, closeConn: closeConn, post: post, ua: "Go-http-client/1.1"})
	return lines
}

// writeHeaderLines writes the header lines libcurl sends: the request's
// fields in net/http's order (sorted by name, values in order), the Host
// and User-Agent net/http would send, and removal lines ("Name:") for the
// headers libcurl would otherwise add by itself.
// headerOpts says what writeHeaderLines adds to the request's own fields.
type headerOpts struct {
	addGzip   bool   // Accept-Encoding: gzip
	closeConn bool   // Connection: close
	post      bool   // libcurl sends a POST (the removal lines it needs)
	ua        string // the User-Agent when the request sets none; "" for none here
	trailer   string // the Trailer field's value, "" for none
	forwarded bool   // sent to an HTTP proxy as it is, not through a tunnel
}

func writeHeaderLines(w headerLineWriter, req *http.Request, o headerOpts) {
	var buf [16]string
	keys := buf[:0]
	for k := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if h := hostHeader(req); h != "" {
		w.item("Host", ": ", h)
	} else {
		w.item("Host", ";", "")
	}
	if v, ok := req.Header["User-Agent"]; ok {
		ua := ""
		if len(v) > 0 {
			ua = strings.TrimSpace(v[0])
		}
		if ua != "" {
			w.item("User-Agent", ": ", ua)
		} else {
			w.item("User-Agent", ":", "") // none at all, as net/http
		}
	} else if o.ua != "" {
		w.item("User-Agent", ": ", o.ua)
	}
	for _, k := range keys {
		for _, v := range req.Header[k] {
			v = strings.TrimSpace(v)
			if v == "" {
				w.item(k, ";", "") // libcurl's syntax for an empty value
			} else {
				w.item(k, ": ", v)
			}
		}
	}
	// libcurl adds "Accept: */*" to every request, and "Expect:
	// 100-continue" and a Content-Type to a POST (a request with a body, or
	// an empty POST, PUT or PATCH): a removal line for each it would add
	// and the request lacks. Each line costs libcurl a comparison for every
	// header it considers adding, so none is sent for nothing.
	removals := [...]string{"Accept", "Expect", "Content-Type"}
	n := 1
	if o.post {
		n = len(removals)
	}
	for _, name := range removals[:n] {
		if !hasKey(req.Header, name) {
			w.item(name, ":", "")
		}
	}
	if o.forwarded && !hasKey(req.Header, "Proxy-Connection") {
		// libcurl adds "Proxy-Connection: Keep-Alive" to a request it
		// sends to an HTTP proxy; net/http sends none.
		w.item("Proxy-Connection", ":", "")
	}
	if o.trailer != "" {
		w.item("Trailer", ": ", o.trailer)
	}
	if o.addGzip {
		w.item("Accept-Encoding", ": ", "gzip")
	}
	if o.closeConn && !hasToken(headerValue(req.Header, "Connection"), "close") {
		w.item("Connection", ": ", "close")
	}
}

// hasKey reports whether h has the field name, given in canonical form.
func hasKey(h http.Header, name string) bool {
	_, ok := h[name]
	return ok
}

// headerValue is h.Get(name) for a name given in canonical form: it saves
// canonicalizing a constant on every request.
func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// hasToken reports whether the comma-separated list v contains token.
func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

// staticKey is what the options a handle keeps from request to request
// depend on (pooledEasy): the scheme, the HTTP version asked for, the proxy,
// the TLS configuration (a tls.Config must not change once used, as
// crypto/tls says) and the Transport's CA and time settings.
type staticKey struct {
	https          bool
	version        curlpoll.HTTPVersion
	proxy          url.URL
	tlsConf        *tls.Config
	connectTo      [2]string
	caFile         string
	caPEM          *byte // CAPEM's first byte, and its length
	caPEMLen       int
	connectTimeout time.Duration
	expectTimeout  time.Duration
	idleTimeout    time.Duration
	multiplex      bool
	dial           bool // DialContext is set
}

// batches are the option batches configure fills, pooled with their memory.
var batches = sync.Pool{New: func() any { return new(curlpoll.OptionBatch) }}

// perRequest is what configure sets on a handle for each request (but the
// header list): the URL, and what the method and body make of the request.
type perRequest struct {
	url    [4]string // CURLOPT_URL in parts
	target string    // CURLOPT_REQUEST_TARGET: "" for none (NULL)
	method struct {
		nobody, post  bool
		postSize      int64  // CURLOPT_POSTFIELDSIZE_LARGE: -1 unknown or none
		customRequest string // CURLOPT_CUSTOMREQUEST: "" for none (NULL)
		rawChunks     bool   // CURLOPT_HTTP_TRANSFER_DECODING off
		forbidReuse   bool
	}
}

// nulLines collects header lines each ended by a NUL, as a list option's
// items (pooledEasy.hdrs).
type nulLines struct{ b []byte }

func (l *nulLines) item(name, sep, value string) {
	l.b = append(append(append(append(l.b, name...), sep...), value...), 0)
}

// tlsVersions is CURLOPT_SSLVERSION's value for crypto/tls's MinVersion and
// MaxVersion: a version libcurl has no name for counts as 0, libcurl's
// default (crypto/tls refuses SSL 3.0 and older anyway).
func tlsVersions(minV, maxV uint16) int64 {
	known := func(v uint16) uint16 {
		if v < tls.VersionTLS10 || v > tls.VersionTLS13 {
			return 0
		}
		return v
	}
	// Each bound on its own: a MinVersion above MaxVersion goes to libcurl
	// as it is, and fails the handshake, as it does in crypto/tls.
	lo, _ := curlpoll.TLSVersionsValue(known(minV), 0)
	hi, _ := curlpoll.TLSVersionsValue(0, known(maxV))
	return lo | hi
}
