// Package faultserver is a loopback-only HTTP server for tests that fails
// in the way each request asks for: the first path segment names a Fault
// ("/stall-body?n=1000"). It speaks HTTP/1.1 in clear text, HTTP/2 with
// prior knowledge (h2c), and both over TLS (ALPN), with a good, an expired
// and a wrong-host certificate, and a listener whose handshake always fails.
//
// Every connection is served on its own goroutine; Close closes the
// listeners and every connection, and waits for those goroutines. A stalled
// connection waits until its client goes away or the server closes.
package faultserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A Fault is what the server does with a request; its value is the path
// segment that asks for it.
type Fault string

// The faults. Unless said otherwise a fault applies to HTTP/1.1, and the
// query parameter n sets the size of the body (1000 bytes by default).
const (
	OK              Fault = "ok"                // 200 with n bytes of body and a Content-Length (HTTP/1.1, h2)
	Refuse          Fault = "refuse"            // nothing listens: the connect is refused (any mode)
	Silent          Fault = "silent"            // the connection is accepted and never answered (h2: the stream)
	StallHeaders    Fault = "stall-headers"     // the request is read, nothing is sent (HTTP/1.1, h2)
	StallMidHeaders Fault = "stall-mid-headers" // the status line and part of a field, then nothing
	StallMidBody    Fault = "stall-body"        // headers, half the body, then nothing (HTTP/1.1, h2)
	RSTHeaders      Fault = "rst-headers"       // the request is read, then a TCP reset (HTTP/1.1, h2)
	RSTMidHeaders   Fault = "rst-mid-headers"   // part of the header block, then a TCP reset
	RSTMidBody      Fault = "rst-body"          // headers, half the body, then a TCP reset (HTTP/1.1, h2)
	CloseMidBody    Fault = "close-body"        // Content-Length n, half the body, then FIN (HTTP/1.1, h2)
	CloseMidChunked Fault = "close-chunked"     // chunked, half the body, then FIN
	CloseNoLength   Fault = "close-nolength"    // no length, not chunked: the body ends at FIN (a valid response)
	Garbage         Fault = "garbage"           // binary bytes instead of a response, then nothing
	LongStatusLine  Fault = "long-status"       // a status line of n bytes (1 MB by default), then nothing
	HugeHeader      Fault = "huge-header"       // a header block of n bytes (1 MB by default) in 1000-byte fields, then a body
	ManyHeaders     Fault = "many-headers"      // n header fields (10,000 by default), then a body (HTTP/1.1, h2)
	BadChunk        Fault = "bad-chunk"         // chunked, a good chunk, then a chunk size that is not hex, then nothing
	Trickle         Fault = "trickle"           // the whole response one byte at a time, gap (1ms) apart (HTTP/1.1; h2: the body)
	H2GoAway        Fault = "h2-goaway"         // h2: headers, half the body, GOAWAY (INTERNAL_ERROR), FIN
	H2RSTStream     Fault = "h2-rst"            // h2: headers, half the body, RST_STREAM (INTERNAL_ERROR); the connection lives on

	// The TLS faults are listeners, not paths: their URL is the TLS one.
	TLSHandshakeFail  Fault = "tls-fail"      // the server aborts the handshake with an alert
	TLSHandshakeStall Fault = "tls-stall"     // the server never answers the ClientHello
	TLSExpired        Fault = "tls-expired"   // the certificate expired an hour ago
	TLSWrongHost      Fault = "tls-wronghost" // the certificate names wrong.example only
)

// Faults lists every fault.
var Faults = []Fault{
	OK, Refuse, Silent, StallHeaders, StallMidHeaders, StallMidBody,
	RSTHeaders, RSTMidHeaders, RSTMidBody, CloseMidBody, CloseMidChunked, CloseNoLength,
	Garbage, LongStatusLine, HugeHeader, ManyHeaders, BadChunk, Trickle,
	H2GoAway, H2RSTStream, TLSHandshakeFail, TLSHandshakeStall, TLSExpired, TLSWrongHost,
}

// A Mode is how a URL is reached.
type Mode int

const (
	HTTP1 Mode = iota // HTTP/1.1 in clear text
	H2C               // HTTP/2 with prior knowledge, in clear text
	TLS1              // HTTP/1.1 over TLS with a good certificate (ALPN offers http/1.1 only)
	TLS2              // HTTP/2 over TLS with a good certificate (ALPN offers h2 only)
)

// Modes lists every mode.
var Modes = []Mode{HTTP1, H2C, TLS1, TLS2}

func (m Mode) String() string { return [...]string{"http1", "h2c", "tls1", "tls2"}[m] }

// HTTP2 reports whether the mode speaks HTTP/2.
func (m Mode) HTTP2() bool { return m == H2C || m == TLS2 }

// Supports reports whether fault f can be asked for in mode m.
func Supports(f Fault, m Mode) bool {
	switch f {
	case Refuse, TLSHandshakeFail, TLSHandshakeStall, TLSExpired, TLSWrongHost:
		return true
	case H2GoAway, H2RSTStream:
		return m.HTTP2()
	}
	if m.HTTP2() {
		return h2Faults[f]
	}
	return true
}

var h2Faults = map[Fault]bool{
	OK: true, Silent: true, StallHeaders: true, StallMidBody: true, RSTHeaders: true,
	RSTMidBody: true, CloseMidBody: true, ManyHeaders: true, Trickle: true,
	H2GoAway: true, H2RSTStream: true,
}

// Server is a running fault server.
type Server struct {
	lns     map[string]net.Listener // by role: "h1", "h2c", "tls1", "tls2", and the TLS faults
	refused string                  // an address nothing listens on
	refFD   int                     // the bound, unlistened socket that keeps refused's port
	caPEM   []byte

	done     chan struct{}
	wg       sync.WaitGroup
	accepted atomic.Int64

	// mu guards conns and closed.
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// New starts a server on 127.0.0.1.
func New() (*Server, error) {
	cs, err := loadCerts()
	if err != nil {
		return nil, err
	}
	s := &Server{
		lns:   make(map[string]net.Listener),
		done:  make(chan struct{}),
		conns: make(map[net.Conn]struct{}),
		caPEM: cs.caPEM,
		refFD: -1,
	}
	tlsConf := func(c tls.Certificate, protos ...string) *tls.Config {
		if len(protos) == 0 {
			protos = []string{"h2", "http/1.1"}
		}
		return &tls.Config{Certificates: []tls.Certificate{c}, NextProtos: protos}
	}
	roles := []struct {
		name string
		conf *tls.Config
	}{
		{"h1", nil}, {"h2c", nil},
		{"tls1", tlsConf(cs.good, "http/1.1")},
		{"tls2", tlsConf(cs.good, "h2")},
		{string(TLSExpired), tlsConf(cs.expired)},
		{string(TLSWrongHost), tlsConf(cs.wrongHost)},
		{string(TLSHandshakeStall), nil},
		{string(TLSHandshakeFail), &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errors.New("faultserver: handshake refused")
		}}},
	}
	for _, r := range roles {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.lns[r.name] = ln
		s.wg.Add(1)
		go s.accept(ln, r.name, r.conf)
	}
	if err := s.reserveRefused(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// reserveRefused binds a socket without listening on it: connects to its
// port are refused, and no one else can take the port meanwhile.
func (s *Server) reserveRefused() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return err
	}
	s.refFD = fd
	s.refused = "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	return nil
}

// URL returns the URL that asks for fault f in mode m, with query (may be
// empty, without "?"). The TLS faults ignore m, and Refuse uses only its
// scheme. A client that does not offer the mode's ALPN protocol (TLS1,
// TLS2) gets the other one's handling.
func (s *Server) URL(f Fault, m Mode, query string) string {
	if query != "" {
		query = "?" + query
	}
	path := "/" + string(f) + query
	switch f {
	case Refuse:
		scheme := "http"
		if m == TLS1 || m == TLS2 {
			scheme = "https"
		}
		return scheme + "://" + s.refused + path
	case TLSHandshakeFail, TLSHandshakeStall, TLSExpired, TLSWrongHost:
		return "https://" + s.lns[string(f)].Addr().String() + "/ok" + query
	}
	switch m {
	case H2C:
		return "http://" + s.lns["h2c"].Addr().String() + path
	case TLS1:
		return "https://" + s.lns["tls1"].Addr().String() + path
	case TLS2:
		return "https://" + s.lns["tls2"].Addr().String() + path
	}
	return "http://" + s.lns["h1"].Addr().String() + path
}

// CAPEM returns the PEM certificate of the CA that signed the server's
// certificates.
func (s *Server) CAPEM() []byte { return s.caPEM }

// Accepted returns the number of connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Open returns the number of connections open now.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close closes the listeners and every connection, and waits for the
// server's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if s.refFD >= 0 {
		syscall.Close(s.refFD)
	}
	s.wg.Wait()
	return nil
}

func (s *Server) accept(ln net.Listener, role string, conf *tls.Config) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			defer c.Close()
			s.serve(c, role, conf)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// conn is a served connection: the stream to read and write (TLS or not)
// and the TCP connection under it, for resets.
type conn struct {
	s   *Server
	rw  net.Conn
	tcp *net.TCPConn
}

func (s *Server) serve(c net.Conn, role string, conf *tls.Config) {
	cn := &conn{s: s, rw: c, tcp: c.(*net.TCPConn)}
	switch role {
	case "h1":
		cn.serveHTTP1()
		return
	case "h2c":
		cn.serveH2()
		return
	case string(TLSHandshakeStall):
		cn.stall()
		return
	}
	tc := tls.Server(c, conf)
	c.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	cn.rw = tc
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		cn.serveH2()
	} else {
		cn.serveHTTP1()
	}
}

// reset closes the connection with a TCP RST (SO_LINGER 0).
func (c *conn) reset() {
	c.tcp.SetLinger(0)
	c.tcp.Close()
}

// fin ends the connection with a FIN, not a reset: it shuts down the
// sending side of the TCP connection (under TLS too, without a
// close_notify), then reads what the client still sends until it closes,
// for at most a second. Closing with unread bytes would send an RST.
func (c *conn) fin() {
	c.tcp.CloseWrite()
	c.tcp.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, c.tcp)
}

// stall waits until the client goes away or the server closes, reading and
// discarding whatever the client sends.
func (c *conn) stall() {
	io.Copy(io.Discard, c.rw)
}

// sleep waits for d, or less if the server closes; false if it did.
func (c *conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.s.done:
		return false
	}
}

// params are a request's query parameters.
type params struct {
	n     int
	gap   time.Duration
	fault Fault
}

func parseParams(path, rawQuery string, defaultN int) params {
	p := params{fault: Fault(strings.Trim(path, "/")), n: defaultN, gap: time.Millisecond}
	for kv := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "n":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				p.n = n
			}
		case "gap":
			if d, err := time.ParseDuration(v); err == nil {
				p.gap = d
			}
		}
	}
	if p.n == defaultN {
		switch p.fault {
		case LongStatusLine, HugeHeader:
			p.n = 1 << 20
		case ManyHeaders:
			p.n = 10000
		}
	}
	return p
}

// Body returns the body the server sends for n bytes: 'a' to 'z', repeated.
func Body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// serveHTTP1 serves requests on c until one asks for a fault that ends it.
func (c *conn) serveHTTP1() {
	br := bufio.NewReader(c.rw)
	for {
		if peek, err := br.Peek(1); err != nil || len(peek) == 0 {
			return
		}
		// A silent connection is never read: learn its fault from the
		// request line without consuming it? It is simpler to read the
		// request and send nothing, which is what a client sees as well.
		req, err := http.ReadRequest(br)
		if err != nil {
			io.WriteString(c.rw, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		io.Copy(io.Discard, req.Body)
		p := parseParams(req.URL.Path, req.URL.RawQuery, 1000)
		if !c.respondHTTP1(p) {
			return
		}
	}
}

// respondHTTP1 answers one request; false ends the connection.
func (c *conn) respondHTTP1(p params) bool {
	w := c.rw
	body := Body(p.n)
	half := body[:p.n/2]
	head := func(extra string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra + "\r\n"
	}
	cl := "Content-Length: " + strconv.Itoa(p.n) + "\r\n"
	switch p.fault {
	case OK:
		io.WriteString(w, head(cl))
		w.Write(body)
		return true
	case Silent, StallHeaders:
		c.stall()
	case StallMidHeaders:
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/pl")
		c.stall()
	case StallMidBody:
		io.WriteString(w, head(cl))
		w.Write(half)
		c.stall()
	case RSTHeaders:
		c.reset()
	case RSTMidHeaders:
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/pl")
		c.sleep(10 * time.Millisecond) // let the bytes arrive before the reset
		c.reset()
	case RSTMidBody:
		io.WriteString(w, head(cl))
		w.Write(half)
		c.sleep(10 * time.Millisecond)
		c.reset()
	case CloseMidBody:
		io.WriteString(w, head(cl))
		w.Write(half)
		c.fin()
	case CloseMidChunked:
		io.WriteString(w, head("Transfer-Encoding: chunked\r\n"))
		fmt.Fprintf(w, "%x\r\n%s\r\n", len(half), half)
		c.fin()
	case CloseNoLength:
		io.WriteString(w, head("Connection: close\r\n"))
		w.Write(body)
		c.fin()
	case Garbage:
		w.Write([]byte("\x00\x01\x02garbage\xff\xfe\r\n\r\n\x7f"))
		c.stall()
	case LongStatusLine:
		io.WriteString(w, "HTTP/1.1 200 ")
		w.Write(bytesOf('A', p.n))
		c.stall()
	case HugeHeader:
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\n")
		for i := 0; b.Len() < p.n; i++ {
			fmt.Fprintf(&b, "X-Big-%d: %s\r\n", i, bytesOf('v', 1000))
		}
		b.WriteString("Content-Length: 2\r\n\r\nok")
		io.WriteString(w, b.String())
		return true
	case ManyHeaders:
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\n")
		for i := 0; i < p.n; i++ {
			fmt.Fprintf(&b, "X-H-%d: %d\r\n", i, i)
		}
		b.WriteString("Content-Length: 2\r\n\r\nok")
		io.WriteString(w, b.String())
		return true
	case BadChunk:
		io.WriteString(w, head("Transfer-Encoding: chunked\r\n")+"5\r\nhello\r\nZZ\r\nworld\r\n0\r\n\r\n")
		c.stall()
	case Trickle:
		resp := head(cl) + string(body)
		for i := 0; i < len(resp); i++ {
			if _, err := io.WriteString(w, resp[i:i+1]); err != nil || !c.sleep(p.gap) {
				return false
			}
		}
		return true
	default:
		io.WriteString(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		return true
	}
	return false
}

func bytesOf(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}
