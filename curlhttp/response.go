package curlhttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/curlpoll/curlpoll"
)

// headerState is the Transport's header function's state. onLine runs in
// libcurl's header callback on the Multi's goroutine; the caller reads the
// state once Transfer.Header has returned, which happens after.
type headerState struct {
	limit  int64
	https  bool
	status int
	n      int64 // header bytes so far
	done   bool  // the final header block has ended
	tls    curlpoll.TLSState
	gotTLS bool
}

func (h *headerState) onLine(t *curlpoll.Transfer, line []byte) error {
	if h.done {
		return nil // a trailer
	}
	h.n += int64(len(line))
	if h.n > h.limit {
		return &headerTooLargeError{h.limit}
	}
	switch {
	case bytes.HasPrefix(line, []byte("HTTP/")):
		h.status = curlpoll.StatusCode(string(line))
		// Read the TLS state here, before the block ends: Transfer.Header
		// may return as soon as the blank line is seen.
		if h.https && !h.gotTLS {
			h.gotTLS = true
			h.tls = t.TLSState()
		}
	case (string(line) == "\r\n" || string(line) == "\n") && h.status >= 200:
		h.done = true
	}
	return nil
}

// errHeaderCutShort is the error of a response whose header block did not
// end: errors.Is(err, io.ErrUnexpectedEOF) holds, as for net/http's.
var errHeaderCutShort = fmt.Errorf("curlpoll: connection closed before the end of the response header block: %w", io.ErrUnexpectedEOF)

// response builds the *http.Response from the header block (the status
// line and the field lines, each ended by "\n": Transfer.HeaderBlock).
func (c *call) response(block string, cfg *reqConfig) (*http.Response, error) {
	if block == "" {
		// libcurl ends a transfer whose connection closed after the status
		// line, before the blank line, without an error: net/http fails it
		// with io.ErrUnexpectedEOF ("net/http: HTTP/1.x transport
		// connection broken: unexpected EOF").
		return nil, errHeaderCutShort
	}
	status, fields, _ := strings.Cut(block, "\n")
	resp := &http.Response{Request: c.req}
	if err := parseStatusLine(resp, status); err != nil {
		return nil, err
	}
	var err error
	if resp.Header, err = parseHeaderBlock(fields); err != nil {
		if resp.ProtoMajor == 1 {
			// net/http's client takes the connection for broken (and
			// leaves textproto's error inside).
			err = fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err)
		}
		return nil, err
	}
	h2 := resp.ProtoMajor >= 2 // HTTP/2 or HTTP/3: framed by the protocol, no Transfer-Encoding

	// Length and framing, as net/http's readTransfer decides them.
	code := resp.StatusCode
	noBody := cfg.head || code/100 == 1 || code == 204 || code == 304
	resp.ContentLength = -1
	chunked := false
	if !h2 {
		if te := resp.Header["Transfer-Encoding"]; len(te) > 0 {
			// As net/http (fixTransferEncoding), strict against
			// smuggling: from HTTP/1.1 one field, "chunked", or an error.
			if resp.ProtoAtLeast(1, 1) {
				if len(te) != 1 {
					return nil, fmt.Errorf("too many transfer encodings: %q", te)
				}
				if !strings.EqualFold(te[0], "chunked") {
					return nil, fmt.Errorf("unsupported transfer encoding: %q", te[0])
				}
			}
			chunked = hasToken(strings.Join(te, ","), "chunked")
			delete(resp.Header, "Transfer-Encoding")
		}
		if cls := resp.Header["Content-Length"]; len(cls) > 1 {
			// As net/http (fixLength), against response smuggling, with
			// chunked framing too: copies of one value become one,
			// different values are an error (libcurl frames the body by
			// the last, this by the first).
			first := textproto.TrimString(cls[0])
			for _, v := range cls[1:] {
				if textproto.TrimString(v) != first {
					return nil, fmt.Errorf("http: message cannot contain multiple Content-Length headers; got %q", cls)
				}
			}
			resp.Header["Content-Length"] = []string{first}
		}
		if chunked {
			// As net/http (readTransfer): chunked whatever the status,
			// and a Content-Length dropped only where a body follows.
			resp.TransferEncoding = []string{"chunked"}
			if !noBody {
				delete(resp.Header, "Content-Length")
			}
		}
		resp.Close = shouldClose(resp)
	}
	if !chunked || cfg.head {
		// A HEAD response's ContentLength is its Content-Length field,
		// chunked or not, as net/http's.
		if cl := headerValue(resp.Header, "Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
				resp.ContentLength = n
			}
		}
	}
	if noBody && !cfg.head {
		resp.ContentLength = 0
	}
	if !h2 && !noBody && !chunked && resp.ContentLength < 0 {
		// A body that ends with the connection: net/http's readTransfer
		// sets Close for it ("unbounded body"), whatever the Connection
		// field says.
		resp.Close = true
	}
	for _, v := range resp.Header["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)); k != "" {
				if resp.Trailer == nil {
					resp.Trailer = make(http.Header)
				}
				resp.Trailer[k] = nil
			}
		}
	}
	delete(resp.Header, "Trailer")

	if cfg.hs.https {
		resp.TLS = cfg.hs.tls.ConnectionState(c.req.URL.Hostname(), protoVersion(resp))
		if sn := c.tr.TLSClientConfig; sn != nil && sn.ServerName != "" {
			resp.TLS.ServerName = sn.ServerName
		}
	}

	registerResponse(resp, c.t)
	if code == http.StatusSwitchingProtocols {
		// The connection now speaks another protocol, which libcurl
		// cannot hand over (net/http's body is the connection, readable
		// and writable): libcurl would read it as this response's body
		// until the server closes it. Returned at once, with no body, and
		// the connection closed.
		c.finish()
		resp.Body = http.NoBody
		return resp, nil
	}
	if noBody || resp.ContentLength == 0 {
		// Nothing more will come: let the transfer end now, so that a
		// caller who does not close http.NoBody leaks nothing.
		if !c.awaitTransfer(cfg) {
			// The request body is still going out: given up on, as
			// net/http gives up on the connection, and the response
			// returned.
			c.finish()
			resp.Body = http.NoBody
			return resp, nil
		}
		if err := c.t.Err(); err != nil && !cfg.head {
			return nil, c.transferError(err)
		}
		// An HTTP/2 or HTTP/3 response without a body may still have
		// had a trailer section (a gRPC trailers-only error): net/http
		// fills Response.Trailer with it at the body's EOF.
		if err := c.rb.fillTrailerOf(c, resp); err != nil {
			return nil, err
		}
		c.finish()
		resp.Body = http.NoBody
		return resp, nil
	}

	b := &c.rb
	b.c, b.resp, b.remaining = c, resp, resp.ContentLength
	if chunked && cfg.rawChunks {
		b.chunks = newRawChunked(transferReader{b})
	}
	resp.Body = b
	if cfg.addedGzip && strings.EqualFold(headerValue(resp.Header, "Content-Encoding"), "gzip") {
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
		resp.Body = &gzipBody{body: b}
	}
	if !c.tr.track(c) {
		return nil, errTransportClosed
	}
	return resp, nil
}

// maxWriteWait is how long net/http's Transport waits, once a response
// without a body is in, for its request to be written in full
// (maxWriteWaitBeforeConnReuse), before it closes the connection and
// returns the response.
const maxWriteWait = 50 * time.Millisecond

// awaitTransfer waits for the transfer of a response without a body to
// end, and reports whether it did. A request with a body may still be
// sending it (libcurl goes on after a 2xx, and a server may answer before
// it reads the body): for at most maxWriteWait then, as net/http, rather
// than until the upload ends, which a server that does not read it, or a
// caller that writes the rest of its body once the response is in, would
// never let happen.
func (c *call) awaitTransfer(cfg *reqConfig) bool {
	if !cfg.rawChunks { // no request body (rawChunks is set for every request with one)
		<-c.t.Done()
		return true
	}
	select {
	case <-c.t.Done():
		return true
	default:
	}
	timer := time.NewTimer(maxWriteWait)
	defer timer.Stop()
	select {
	case <-c.t.Done():
		return true
	case <-timer.C:
		return false
	}
}

// awaitEnd waits, once a response body has been read to its end, for its
// transfer to end, so that finish leaves the connection for reuse: over
// HTTP/1.1 a body with a Content-Length may end before the transfer, whose
// request body may still be going out. As awaitTransfer: for at most
// maxWriteWait with a request body (else finish stops the transfer and
// the connection is closed, as net/http closes it), and without one until
// it ends, here by reading nothing from the transfer, which returns once
// it is over (or at once if it holds more, which the ended body leaves
// unread), without allocating the channel that Done makes.
func (c *call) awaitEnd() {
	if c.cfg.rawChunks {
		c.awaitTransfer(&c.cfg)
		return
	}
	c.t.Read(nil)
}

// tokenWithSpaces reports whether k is token bytes and spaces, with at
// least one of each.
func tokenWithSpaces(k string) bool {
	spaces := strings.Count(k, " ")
	if spaces == 0 || spaces == len(k) {
		return false
	}
	ok, _ := scanToken(strings.ReplaceAll(k, " ", "-"))
	return ok
}

// errMessageTooLarge is net/textproto's error of the same text.
var errMessageTooLarge = errors.New("message too large")

// parseHeaderBlock turns header field lines, each ended by "\n" (the last
// may lack it), into an http.Header, joining obsolete folded lines to the
// field before, with net/http's client's result (net/textproto's
// ReadMIMEHeader, FuzzHeaderLines): it refuses a block whose first line
// starts with a space or a tab (folding onto nothing; libcurl from 8.1.0
// passes it on), a line with no colon, a field whose name is neither a
// token nor a token with spaces (kept as it is) and a line with control
// bytes other than tab (libcurl passes on a bare CR or a NUL inside a
// line); it trims spaces and tabs around lines and a value's left.
func parseHeaderBlock(block string) (http.Header, error) {
	if block != "" && (block[0] == ' ' || block[0] == '\t') {
		// net/textproto's ReadMIMEHeader errors: the line quoted, or, when
		// longer than it quotes (80 bytes), its line reader's.
		l, _, _ := strings.Cut(block, "\n")
		l = strings.TrimSuffix(l, "\r")
		if len(l) > 80 {
			return nil, errMessageTooLarge
		}
		return nil, textproto.ProtocolError(fmt.Sprintf("malformed MIME header initial line: %q", l))
	}
	// The exact line count: a hint above 8 makes a larger map than a
	// typical response of 8 fields needs.
	n := strings.Count(block, "\n")
	if block != "" && block[len(block)-1] != '\n' {
		n++
	}
	h := make(http.Header, n)
	// One backing array for the values, as net/textproto does: a field's
	// first value takes a one-element slice of it (capped, so that an
	// append by the caller copies), a repeated field appends.
	vals := make([]string, n)
	var seen seenKeys
	var last string // the key of the previous field, for obsolete folding
	var fold []byte // its value while folded lines come (one buffer, as textproto's)
	for len(block) > 0 {
		l := block
		if i := strings.IndexByte(block, '\n'); i >= 0 {
			l, block = block[:i], block[i+1:]
		} else {
			block = ""
		}
		if l == "" {
			break // the blank line that ends a block (libcurl's leaves it out)
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !validHeaderValue(l) {
				return nil, textproto.ProtocolError(fmt.Sprintf("malformed MIME header line: %q", l))
			}
			// textproto joins the trimmed lines with a space, then trims
			// the value's left only: a blank continuation leaves a space.
			if fold == nil {
				vv := h[last]
				fold = append(make([]byte, 0, len(vv[len(vv)-1])+len(l)+1), vv[len(vv)-1]...)
			}
			fold = append(append(fold, ' '), trimSpaceTab(l)...)
			continue
		}
		if fold != nil {
			unfold(h[last], fold)
			fold = nil
		}
		// As textproto: the colon, the name, then the value.
		l = trimSpaceTab(l)
		i := strings.IndexByte(l, ':')
		if i < 0 {
			return nil, textproto.ProtocolError(fmt.Sprintf("malformed MIME header: missing colon: %q", l))
		}
		k := l[:i]
		ok, canonical := scanToken(k)
		if !ok {
			// net/textproto takes a name with spaces (not tabs), as it is
			// (go.dev/issue/34540).
			if !tokenWithSpaces(k) {
				return nil, textproto.ProtocolError(fmt.Sprintf("malformed MIME header line: %q", l))
			}
			canonical = true
		}
		v := trimSpaceTab(l[i+1:])
		if !validHeaderValue(v) {
			return nil, textproto.ProtocolError(fmt.Sprintf("malformed MIME header line: %q", l))
		}
		if !canonical {
			if c, ok := commonCanonical[k]; ok {
				k = c
			} else {
				k = textproto.CanonicalMIMEHeaderKey(k)
			}
		}
		if seen.has(h, k) {
			h[k] = append(h[k], v)
		} else {
			vals[0] = v
			h[k], vals = vals[:1:1], vals[1:]
		}
		last = k
	}
	if fold != nil {
		unfold(h[last], fold)
	}
	return h, nil
}

// seenKeys answers whether a header block's field was seen before, for the
// first fields by comparing with their keys, not by a map lookup: a block
// rarely repeats a field, and a lookup hashes the key (callgrind: ~600
// instructions fewer per typical response of 8 fields, the comparisons
// counted).
type seenKeys struct {
	keys [16]string
	n    int
}

// has reports whether k is a key of h already, and notes it if not
// (after the 16th, h notes the keys).
func (s *seenKeys) has(h http.Header, k string) bool {
	if s.n > len(s.keys) {
		_, ok := h[k]
		return ok
	}
	for _, x := range s.keys[:s.n] {
		if x == k {
			return true
		}
	}
	if s.n < len(s.keys) {
		s.keys[s.n] = k
	}
	s.n++ // past len(keys): h has all the keys seen, and answers
	return false
}

// unfold makes fold, a field's value and its folded lines joined, the
// last of vv, trimmed on the left as textproto trims it.
func unfold(vv []string, fold []byte) {
	vv[len(vv)-1] = strings.TrimLeft(string(fold), " \t")
}

// commonCanonical maps common field names in the forms that are not
// canonical but come often (HTTP/2 and HTTP/3 names are lower case, and
// many servers send "ETag") to their canonical form, with no allocation:
// what net/http's HTTP/2 client does with its own table.
var commonCanonical = func() map[string]string {
	names := []string{
		"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "age",
		"access-control-allow-credentials", "access-control-allow-headers", "access-control-allow-methods",
		"access-control-allow-origin", "access-control-expose-headers", "access-control-max-age",
		"allow", "alt-svc", "authorization", "cache-control", "connection", "content-disposition",
		"content-encoding", "content-language", "content-length", "content-location", "content-range",
		"content-security-policy", "content-type", "cookie", "date", "etag", "expires", "keep-alive",
		"last-modified", "link", "location", "pragma", "proxy-authenticate", "referrer-policy", "refresh",
		"retry-after", "server", "set-cookie", "strict-transport-security", "trailer", "transfer-encoding",
		"upgrade", "vary", "via", "www-authenticate", "x-content-type-options", "x-frame-options",
		"x-request-id", "x-xss-protection",
	}
	m := make(map[string]string, len(names)+3)
	for _, n := range names {
		m[n] = textproto.CanonicalMIMEHeaderKey(n)
	}
	for _, n := range []string{"ETag", "WWW-Authenticate", "X-XSS-Protection"} {
		m[n] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return m
}()

// trimSpaceTab trims spaces and tabs from both ends of s, as net/textproto
// does with header names and values (and unlike strings.TrimSpace, which
// also trims Unicode spaces).
func trimSpaceTab(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseStatusLine fills the status and protocol fields from a status line:
// "HTTP/1.1 200 OK", "HTTP/1.1 200", "HTTP/2 200".
func parseStatusLine(resp *http.Response, line string) error {
	proto, status, ok := strings.Cut(line, " ")
	if !ok {
		return fmt.Errorf("curlpoll: malformed status line %q", line)
	}
	status = strings.TrimLeft(status, " ")
	codeStr, _, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 || code < 100 {
		return fmt.Errorf("curlpoll: malformed status code in %q", line)
	}
	resp.StatusCode = code
	resp.Status = status
	switch proto {
	case "HTTP/2", "HTTP/2.0":
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/2.0", 2, 0
		resp.Status = codeStr + " " + http.StatusText(code) // as net/http's HTTP/2 client
	case "HTTP/3":
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/3.0", 3, 0
		resp.Status = codeStr + " " + http.StatusText(code)
	default:
		major, minor, ok := http.ParseHTTPVersion(proto)
		if !ok {
			return fmt.Errorf("curlpoll: malformed HTTP version %q", proto)
		}
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = proto, major, minor
	}
	return nil
}

func protoVersion(resp *http.Response) curlpoll.HTTPVersion {
	switch resp.ProtoMajor {
	case 2:
		return curlpoll.HTTPVersion2
	case 3:
		return curlpoll.HTTPVersion3
	}
	return curlpoll.HTTPVersion1_1
}

// shouldClose reports whether an HTTP/1 response ends its connection, and
// removes "Connection: close" from its header, as net/http does.
func shouldClose(resp *http.Response) bool {
	conn := strings.Join(resp.Header["Connection"], ",")
	hasClose := hasToken(conn, "close")
	if resp.ProtoMajor == 1 && resp.ProtoMinor == 0 {
		return hasClose || !hasToken(conn, "keep-alive")
	}
	if hasClose {
		resp.Header.Del("Connection") // as net/http does
	}
	return hasClose
}

var errReadOnClosedBody = errors.New("http: read on closed response body")

// body is a response body: it reads the transfer, fills Response.Trailer
// at the end, and ends the call when closed.
//
// A body with a Content-Length ends after that many bytes, as net/http's
// does, even if libcurl's transfer is not over: libcurl keeps an HTTP/1.1
// transfer going until the request body is sent too. Close then stops it.
type body struct {
	c         *call
	resp      *http.Response
	remaining int64       // bytes left before the Content-Length, -1 without one
	chunks    *rawChunked // a chunked body libcurl passes on undecoded (reqConfig.rawChunks)

	// mu guards eof, closed and trailerErr.
	mu         sync.Mutex
	eof        bool
	closed     bool
	trailerErr error // a trailer section net/textproto refuses: every Read at the end returns it
}

func (b *body) Read(p []byte) (int, error) {
	if err := b.check(); err != nil {
		return 0, err
	}
	if b.chunks != nil {
		n, err := b.chunks.Read(p)
		return n, b.end(err)
	}
	n, err := b.readTransfer(p)
	return n, b.end(err)
}

// readTransfer reads what the transfer delivers, up to the Content-Length.
//
// Over HTTP/2 and HTTP/3 a body with a Content-Length ends, as net/http's
// does, at the end of the stream, not at its last byte: a trailer section
// may follow it (a gRPC status after a body of known length, or after none
// at all), which fillTrailer reads once the transfer is over.
func (b *body) readTransfer(p []byte) (int, error) {
	if b.remaining == 0 {
		if b.resp.ProtoMajor < 2 {
			return 0, io.EOF
		}
		var extra [1]byte
		n, err := b.c.t.Read(extra[:])
		if n > 0 {
			return 0, errBodyLongerThanLength
		}
		return 0, err
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.t.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
		if b.remaining == 0 && err == nil && b.resp.ProtoMajor < 2 {
			err = io.EOF
		}
	} else if b.remaining < 0 && n > 0 && err == nil {
		err = b.endsHere()
	}
	return n, err
}

// endsHere returns io.EOF if the transfer is over, successfully, and
// nothing of its body is left to read, else nil: a body without a
// Content-Length then ends with its last bytes, not one Read later, as
// net/http's chunked reader ends when the last chunk is already in. It
// matters to code that reads no further than it needs (a json.Decoder)
// and drops the body without Close: net/http has seen its EOF and given
// the connection back, and so here the call ends (end).
func (b *body) endsHere() error {
	select {
	case <-b.c.t.Done():
	default:
		return nil // a Read of nothing would wait for more
	}
	if _, err := b.c.t.Read(nil); err == io.EOF {
		return io.EOF
	}
	return nil // more to read, or the transfer's error, for the next Read
}

// errBodyLongerThanLength is the error of an HTTP/2 or HTTP/3 response
// body that goes on past its Content-Length.
var errBodyLongerThanLength = errors.New("curlhttp: response body longer than its Content-Length")

// WriteTo writes the body to w without an intermediate copy; io.Copy uses it.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if b.remaining >= 0 || b.chunks != nil {
		return io.Copy(w, bodyReader{b})
	}
	if err := b.check(); err != nil {
		if err == io.EOF {
			return 0, nil
		}
		return 0, err
	}
	n, err := b.c.t.WriteTo(w)
	if b.c.t.Err() != nil || err != nil {
		// A transfer error, or w's.
		if err == nil {
			err = b.c.t.Err()
		}
		if err == io.EOF {
			return n, b.end(err) // w's (the transfer's WriteTo returns nil at the end)
		}
		if err = b.end(err); err == io.EOF {
			// The transfer's error was the body's end
			// (endsWithConnection): WriteTo returns nil there.
			err = nil
		}
		return n, err
	}
	b.end(io.EOF)
	return n, nil
}

// bodyReader hides body's WriteTo from io.Copy. Unlike struct{ io.Reader },
// it is pointer-shaped: making it an interface allocates nothing.
type bodyReader struct{ b *body }

func (r bodyReader) Read(p []byte) (int, error) { return r.b.Read(p) }

// transferReader reads a body's transfer as it comes, for rawChunked.
type transferReader struct{ b *body }

func (r transferReader) Read(p []byte) (int, error) { return r.b.readTransfer(p) }

// rawChunked decodes a chunked body that libcurl passes on undecoded, as
// net/http does (its chunked reader, then the trailer section), so that the
// body ends at its last chunk whatever libcurl's transfer still does.
type rawChunked struct {
	br      *bufio.Reader
	chunks  io.Reader
	trailer http.Header // read after the last chunk
	done    bool
}

func newRawChunked(r io.Reader) *rawChunked {
	br := bufio.NewReader(r)
	return &rawChunked{br: br, chunks: httputil.NewChunkedReader(br)}
}

func (c *rawChunked) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.chunks.Read(p)
	if err == io.EOF {
		// The trailer section: fields, then an empty line.
		h, terr := textproto.NewReader(c.br).ReadMIMEHeader()
		if terr != nil {
			return n, fmt.Errorf("net/http: malformed trailer: %w", terr)
		}
		c.trailer, c.done = http.Header(h), true
	}
	return n, err
}

// check refuses reads after Close and after the context is done, and
// answers io.EOF to those after the end: the call may have ended there
// (end), and its transfer is not read again.
func (b *body) check() error {
	b.mu.Lock()
	closed, eof, terr := b.closed, b.eof, b.trailerErr
	b.mu.Unlock()
	switch {
	case closed:
		return errReadOnClosedBody
	case terr != nil:
		return terr
	case eof:
		return io.EOF
	}
	return contextError(b.c.requestContext())
}

// end handles the result of a read: at the end of a good body it fills the
// trailer and ends the call; errors become what a net/http user expects.
//
// The call ends at the body's EOF, not only at Close, as net/http's
// Transport gives the connection back for reuse at EOF: code that reads a
// body to its end and then drops it (go-github's CheckResponse replaces
// an error response's body with a copy of it) would otherwise keep the
// request's easy handle, its count among the Multi's requests in flight,
// and the Transport itself reachable (the pool's live calls), so that a
// Transport dropped without Close was never collected.
func (b *body) end(err error) error {
	if errors.Is(err, curlpoll.ErrRequestLimit) {
		// libcurl took the response as one to send the request again
		// for (a 417 to "100-continue"), dropped its body, and was kept
		// from sending it (requestBound): the response is what net/http
		// returns, without its body.
		err = io.EOF
	}
	if err != nil && err != io.EOF && b.endsWithConnection() && tlsCutShort(err) {
		// A body that ends with its connection, ended by a TLS close
		// without close_notify: complete, as net/http's (crypto/tls
		// returns io.EOF there, and its body reader takes it for the end).
		err = io.EOF
	}
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		b.mu.Lock()
		first := !b.eof
		b.eof = true
		b.mu.Unlock()
		if first {
			if err := b.fillTrailer(); err != nil {
				b.mu.Lock()
				b.trailerErr = err
				b.mu.Unlock()
				return err
			}
			b.c.awaitEnd()
			b.c.finish()
		}
		return io.EOF
	case errors.Is(err, curlpoll.ErrClosed):
		// A stale transfer: closed by the Transport's Close, or by the
		// body's own, under a Read that waited (finish closes it and
		// gives its handle back). The latter is a read on a closed body,
		// not the Transport's closing, which ErrClosed says.
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return errReadOnClosedBody
		}
		return errTransportClosed
	case errors.Is(err, curlpoll.ErrAborted):
		return errReadOnClosedBody
	}
	var ce *curlpoll.Error
	if errors.As(err, &ce) {
		return b.c.wrapCurlError(ce)
	}
	return err
}

// endsWithConnection reports whether the body ends when its connection
// closes: HTTP/1, neither a Content-Length nor chunked framing.
func (b *body) endsWithConnection() bool {
	return b.resp.ProtoMajor == 1 && b.remaining < 0 && len(b.resp.TransferEncoding) == 0
}

// tlsCutShort reports whether err is libcurl's receive error for a TLS
// connection that the peer closed without a close_notify alert: OpenSSL
// 3's "unexpected eof while reading" (libcurl 8.x, which no longer sets
// SSL_OP_IGNORE_UNEXPECTED_EOF), GnuTLS's premature termination. For
// net/http that is the end of the stream (crypto/tls returns io.EOF
// there, as a clear-text connection's FIN), so it gets the errors a FIN
// gets: io.EOF, io.ErrUnexpectedEOF.
func tlsCutShort(err error) bool {
	var ce *curlpoll.Error
	if !errors.As(err, &ce) || ce.Code != curlpoll.ErrRecvError || ce.Errno != 0 || ce.Err != nil {
		return false
	}
	d := strings.ToLower(ce.Detail)
	return strings.Contains(d, "unexpected eof while reading") || strings.Contains(d, "non-properly terminated")
}

// fillTrailer sets the response's trailer: what rawChunked read, or
// libcurl's trailer lines read as net/http reads a trailer section
// (net/textproto's ReadMIMEHeader: parseHeaderBlock), each field replacing
// a declared one (mergeSetHeader); an error where net/http's would fail.
func (b *body) fillTrailer() error {
	if b.chunks != nil {
		for k, vv := range b.chunks.trailer {
			if b.resp.Trailer == nil {
				b.resp.Trailer = make(http.Header)
			}
			b.resp.Trailer[k] = vv
		}
		return nil
	}
	return b.fillTrailerOf(b.c, b.resp)
}

// fillTrailerOf sets resp's trailer from libcurl's trailer lines of c's
// transfer, which is over.
func (b *body) fillTrailerOf(c *call, resp *http.Response) error {
	lines := c.t.Trailer()
	if len(lines) == 0 {
		return nil
	}
	h, err := parseHeaderBlock(strings.Join(lines, "\n"))
	if err != nil {
		return fmt.Errorf("net/http: malformed trailer: %w", err)
	}
	if resp.Trailer == nil {
		resp.Trailer = make(http.Header, len(h))
	}
	for k, vv := range h {
		resp.Trailer[k] = vv
	}
	return nil
}

// Close ends the request: before the end of the body it stops the
// transfer, and the connection is not reused.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.c.finish()
	return nil
}

// gzipBody decodes a gzip body that the Transport asked for; the decoder
// starts on the first Read, as net/http's does.
type gzipBody struct {
	body *body
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		if g.err == nil {
			g.zr, g.err = gzip.NewReader(g.body)
		}
		if g.err != nil {
			return 0, g.err
		}
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.body.Close() }

// wrapCurlError adds what a net/http user tests for to a transfer's
// *Error: where the connection could not be made, net/http's *net.OpError,
// Op "dial" (a *net.DNSError inside for a failed name lookup, the connect
// system call's error for a refused or unreachable peer), inside one with
// Op "proxyconnect" when the connection was to a proxy; where a connection
// broke under the transfer with a system call's error, net/http's
// *net.OpError, Op "read" or "write". The system call's
// errno (e.g. syscall.ECONNREFUSED) is in the *Error already, read as the
// transfer ended (errno.go): the handle's CURLINFO_OS_ERRNO, read later,
// can be an earlier transfer's. For a body cut short and for no response
// at all it returns net/http's error in place of curl's: io.ErrUnexpectedEOF
// and io.EOF themselves, which code compares with ==.
func (c *call) wrapCurlError(ce *curlpoll.Error) error {
	var dial error
	toProxy := c.viaProxy
	switch ce.Code {
	case curlpoll.ErrCouldntResolveHost:
		// Through a proxy the name is the proxy's to look up: this is a
		// lookup libcurl made itself.
		toProxy = false
		dial = &net.DNSError{Err: "no such host", Name: c.req.URL.Hostname(), IsNotFound: true}
	case curlpoll.ErrCouldntResolveProxy:
		toProxy = true
		dial = &net.DNSError{Err: "no such host", Name: c.proxyHost, IsNotFound: true}
	case curlpoll.ErrPartialFile:
		// A body cut short: net/http's read returns io.ErrUnexpectedEOF
		// itself, not wrapped, and code tests it with == (client-go's
		// watch takes it for the stream's end, anything else for an
		// error event), so curl's *Error cannot go with it.
		return io.ErrUnexpectedEOF
	case curlpoll.ErrGotNothing:
		// The server closed the connection without a byte of response:
		// net/http returns io.EOF itself ("Get ...: EOF"), which code
		// retries on, by errors.Is(err, io.EOF) (go-containerregistry) or
		// by == (client-go's utilnet.IsProbableEOF).
		return io.EOF
	case curlpoll.ErrRecvError, curlpoll.ErrSendError:
		if tlsCutShort(ce) {
			// A TLS close without close_notify under a body: cut short,
			// as a FIN there is (ErrPartialFile above).
			return io.ErrUnexpectedEOF
		}
		var oe *net.OpError
		if ce.Errno == 0 || errors.As(ce.Err, &oe) {
			// No system call failed, or the error is DialContext's
			// connection's own (the relay's), a *net.OpError already.
			return ce
		}
		// A connection broken under the transfer (a reset, mostly):
		// net/http's error is the read or write call's *net.OpError
		// ("read tcp ...: read: connection reset by peer"), which code
		// finds by errors.As or by its message (client-go's
		// utilnet.IsProbableEOF looks for "connection reset by peer",
		// where curl's says "Connection reset by peer").
		op := "read"
		if ce.Code == curlpoll.ErrSendError {
			op = "write"
		}
		return &curlError{ce: ce, extra: &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, ce.Errno)}, showExtra: true}
	case curlpoll.ErrCouldntConnect:
		if c.tr.DialContext != nil && ce.Err != nil {
			// DialContext's error, as net/http returns it.
			if toProxy {
				return &net.OpError{Op: "proxyconnect", Net: "tcp", Err: ce.Err}
			}
			return ce.Err
		}
		if ce.Errno != 0 {
			dial = os.NewSyscallError("connect", ce.Errno)
		} else {
			dial = errors.New(ce.Code.Error())
		}
	default:
		return ce
	}
	op := &net.OpError{Op: "dial", Net: "tcp", Err: dial}
	if toProxy {
		// net/http's Transport wraps a failure to reach the proxy so.
		op = &net.OpError{Op: "proxyconnect", Net: "tcp", Err: op}
	}
	return &curlError{ce: ce, extra: op}
}

// curlError is a transfer's *Error with what Go would have reported for the
// same failure: errors.Is and errors.As see both.
type curlError struct {
	ce        *curlpoll.Error
	extra     error
	showExtra bool // the message ends with extra's
}

func (e *curlError) Error() string {
	if e.showExtra {
		return e.ce.Error() + ": " + e.extra.Error()
	}
	return e.ce.Error()
}
func (e *curlError) Unwrap() []error { return []error{e.ce, e.extra} }
func (e *curlError) Timeout() bool {
	if e.ce.Timeout() {
		return true
	}
	t, ok := e.extra.(interface{ Timeout() bool })
	return ok && t.Timeout()
}
func (e *curlError) Temporary() bool { return e.Timeout() }

// certificatePEM encodes a tls.Certificate's chain and private key in PEM,
// as libcurl takes them.
func certificatePEM(c *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if c.PrivateKey == nil {
		return nil, nil, errors.New("curlpoll: TLS client certificate without a private key")
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("curlpoll: TLS client key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), nil
}
