package curlhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curlpoll/curlpoll"
)

// observer turns libcurl's debug and pre-request callbacks into the
// httptrace.ClientTrace hooks and log records of one request.
//
// The callbacks run on the Multi's goroutine, inside libcurl, where user
// code must not run: a hook or a slog handler that blocks would hold up
// every transfer. So they only parse and queue events (driver side), and
// the request's own goroutines deliver them, in order (delivery side):
// RoundTrip's caller while it waits for the response's header block, and
// whoever ends the request (the body's Close, a failing RoundTrip,
// Transport.Close) for what came after. A hook therefore runs a little
// after the moment it describes, never concurrently with another hook of
// the same request, and always before RoundTrip (for what preceded the
// response) or Body.Close returns.
type observer struct {
	trace  *httptrace.ClientTrace // nil without a trace
	logger *slog.Logger           // nil without logging
	ctx    context.Context        // the request's, for the log records
	t      *curlpoll.Transfer

	// Driver side: what the callbacks have seen of the request.
	serverName string // the URL's host, for the TLS state
	dnsHost    string // the host to resolve; "" for an IP literal
	dialled    bool   // DialContext makes the connections, and reports connecting itself
	// dials and dialsDone count the connections libcurl opened to
	// DialContext's relays (its "Trying" lines, on the driver) and the
	// DialContext calls that returned (on the relays' goroutines).
	dials, dialsDone atomic.Int32
	// dialConn holds the addresses of the connection DialContext made
	// last for the request (traceConn).
	dialConn   atomic.Pointer[curlpoll.ConnInfo]
	https      bool
	hasBody    bool
	dnsDone    bool
	connecting []string // addresses being connected to
	connected  bool
	tlsStarted bool
	tlsDone    bool
	gotConn    bool
	wroteHdrs  bool
	wroteReq   bool
	firstByte  bool
	final      bool                 // the final response's status line has arrived
	multiplex  bool                 // and it came over HTTP/2 or HTTP/3
	putIdle    bool                 // the connection went back to the pool after it
	code1xx    int                  // the 1xx block being received, 0 if none
	hdr1xx     textproto.MIMEHeader // its fields
	resolved   []net.IPAddr         // from libcurl 8's "IPv4: ..." and "IPv6: ..." lines

	// mu guards queue and dropped: the driver appends, delivery takes.
	mu      sync.Mutex
	queue   []traceEvent
	dropped int // log records dropped because the queue was full

	ready chan struct{} // cap 1: the queue has events

	// deliverMu serializes delivery, and guards ended and hookErr.
	deliverMu sync.Mutex
	ended     bool  // the transfer's end has been delivered
	hookErr   error // what Got1xxResponse returned
}

// err returns the error a hook returned to end the request, if any.
func (o *observer) err() error {
	o.deliverMu.Lock()
	defer o.deliverMu.Unlock()
	return o.hookErr
}

// maxQueuedRecords bounds the log records waiting for delivery; trace
// events are few and always kept.
const maxQueuedRecords = 4096

type eventKind uint8

const (
	evLog eventKind = iota
	evDNSStart
	evDNSDone
	evConnectStart
	evConnectDone
	evTLSStart
	evTLSDone
	evGotConn
	evWroteHeaderField
	evWroteHeaders
	evWroteRequest
	evFirstByte
	evWait100
	evGot100
	evGot1xx
	evPutIdle
)

// traceEvent is one queued hook call or log record.
type traceEvent struct {
	kind   eventKind
	str    string // address, host, field name or log line
	values []string
	addrs  []net.IPAddr
	conn   curlpoll.ConnInfo
	reused bool
	tls    curlpoll.TLSState
	code   int
	header textproto.MIMEHeader
	debug  curlpoll.DebugKind
	err    error
}

// newObserver returns the observer for a request, nil when it has neither
// a trace nor a logger.
func newObserver(tr *Transport, req *http.Request, proxy string, hasBody bool) *observer {
	trace := httptrace.ContextClientTrace(req.Context())
	if trace == nil && tr.Logger == nil {
		return nil
	}
	o := &observer{
		trace: trace, logger: tr.Logger, ctx: req.Context(),
		https: req.URL.Scheme == "https", hasBody: hasBody, serverName: req.URL.Hostname(),
		ready: make(chan struct{}, 1),
	}
	host := req.URL.Hostname()
	if proxy != "" {
		host = proxy
	}
	if _, err := netip.ParseAddr(host); err != nil && tr.DialContext == nil {
		o.dnsHost = host
	}
	o.dialled = tr.DialContext != nil
	return o
}

// install sets e's debug function to feed the observer; with a trace, the
// call's pre-request function (call.prereq) feeds it too.
func (o *observer) install(e *curlpoll.Easy) error {
	return e.SetInlineDebugFunc(o.onDebug)
}

func (o *observer) push(ev traceEvent) {
	o.mu.Lock()
	o.queue = append(o.queue, ev)
	o.mu.Unlock()
	notify(o.ready)
}

// onDebug runs in libcurl's debug callback.
func (o *observer) onDebug(t *curlpoll.Transfer, kind curlpoll.DebugKind, data []byte) {
	if o.logger != nil {
		o.mu.Lock()
		if len(o.queue) < maxQueuedRecords {
			o.queue = append(o.queue, traceEvent{kind: evLog, debug: kind, str: string(data)})
		} else {
			o.dropped++
		}
		o.mu.Unlock()
		notify(o.ready)
	}
	if o.trace == nil {
		return
	}
	switch kind {
	case curlpoll.DebugText:
		o.onText(strings.TrimRight(string(data), "\r\n"))
	case curlpoll.DebugHeaderOut:
		o.onHeaderOut(string(data))
	case curlpoll.DebugHeaderIn:
		o.onHeaderIn(strings.TrimRight(string(data), "\r\n"))
	}
}

// onText reads libcurl's informational text: the messages of libcurl 7.88
// and 8.x (tested on 7.88.1 and 8.14.1).
func (o *observer) onText(s string) {
	// libcurl shows no blank line after a 1xx block: anything it says after
	// one ends it (the body of an "Expect: 100-continue" request is sent
	// once the "100 Continue" block is over).
	o.end1xx()
	switch {
	case strings.HasPrefix(s, "IPv4: ") || strings.HasPrefix(s, "IPv6: "):
		// libcurl 8.x lists what the name resolved to.
		for a := range strings.SplitSeq(s[6:], ",") {
			if ip, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil {
				o.resolved = append(o.resolved, net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()})
			}
		}
	case o.dialled && (strings.HasPrefix(s, "  Trying ") || strings.HasPrefix(s, "Trying ")):
		// libcurl connects to DialContext's relay, at once: what it does
		// next waits until DialContext has returned (see deliver).
		o.dials.Add(1)
	case strings.HasPrefix(s, "  Trying ") || strings.HasPrefix(s, "Trying "):
		// "  Trying 127.0.0.1:8080..." or "  Trying [::1]:8080..."
		addr := strings.TrimSuffix(strings.TrimSpace(strings.TrimSpace(s)[len("Trying "):]), "...")
		if !o.dnsDone && o.dnsHost != "" {
			o.dnsDone = true
			addrs := o.resolved
			if len(addrs) == 0 {
				// libcurl 7.x does not say what the name resolved to:
				// report the address it tries.
				if ap, err := netip.ParseAddrPort(addr); err == nil {
					addrs = []net.IPAddr{{IP: ap.Addr().AsSlice(), Zone: ap.Addr().Zone()}}
				}
			}
			o.push(traceEvent{kind: evDNSStart, str: o.dnsHost})
			o.push(traceEvent{kind: evDNSDone, addrs: addrs})
		}
		o.connecting = append(o.connecting, addr)
		o.push(traceEvent{kind: evConnectStart, str: addr})
	case strings.HasPrefix(s, "connect to ") && strings.Contains(s, " failed: "):
		// "connect to 127.0.0.1 port 1 failed: Connection refused"
		rest, msg, _ := strings.Cut(s[len("connect to "):], " failed: ")
		ip, port, _ := strings.Cut(rest, " port ")
		o.connectDone(net.JoinHostPort(ip, port), errors.New(msg))
	case strings.HasPrefix(s, "Connected to "):
		// "Connected to host (127.0.0.1) port 8080 (#0)"
		if i := strings.Index(s, " ("); i >= 0 {
			rest := s[i+2:]
			ip, rest, _ := strings.Cut(rest, ") port ")
			port, _, _ := strings.Cut(rest, " ")
			o.connectDone(net.JoinHostPort(ip, port), nil)
		}
		o.connected = true
	case o.https && !o.tlsStarted && (strings.HasPrefix(s, "ALPN: offers") || strings.HasPrefix(s, "TLSv1") ||
		strings.HasPrefix(s, "SSL connection using")):
		// libcurl 8.x says "Connected to" only once TLS is up too; the
		// handshake needs a connected socket, so the attempt it runs on
		// (the latest) is done now.
		if !o.connected && len(o.connecting) > 0 {
			o.connectDone(o.connecting[len(o.connecting)-1], nil)
		}
		o.tlsStarted = true
		o.push(traceEvent{kind: evTLSStart})
	case strings.HasPrefix(s, "We are completely uploaded and fine"):
		o.wroteRequest(nil)
	case strings.HasPrefix(s, "Connection #") && strings.HasSuffix(s, " left intact"):
		// libcurl keeps the connection for the next request: where
		// net/http puts an HTTP/1 connection back in its idle pool, and
		// calls PutIdleConn (its HTTP/2 client does not).
		if o.final && !o.multiplex && !o.putIdle {
			o.putIdle = true
			o.push(traceEvent{kind: evPutIdle})
		}
	}
}

func (o *observer) connectDone(addr string, err error) {
	for i, a := range o.connecting {
		if a == addr {
			o.connecting = append(o.connecting[:i], o.connecting[i+1:]...)
			o.push(traceEvent{kind: evConnectDone, str: addr, err: err})
			return
		}
	}
}

// dialReturned notes that a DialContext call returned (see deliver), with
// conn (nil if it failed).
func (o *observer) dialReturned(conn net.Conn) {
	if conn != nil {
		o.dialConn.Store(&curlpoll.ConnInfo{Local: ipAddrPort(conn.LocalAddr()), Remote: ipAddrPort(conn.RemoteAddr())})
	}
	o.dialsDone.Add(1)
	notify(o.ready)
}

// ipAddrPort is a's IP address and port, zero for another kind of address.
func ipAddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// onPrereq runs in libcurl's pre-request callback: the connection is
// ready, TLS included.
func (o *observer) onPrereq(t *curlpoll.Transfer, c curlpoll.ConnInfo) error {
	if o.tlsStarted && !o.tlsDone {
		o.tlsDone = true
		o.push(traceEvent{kind: evTLSDone, tls: t.TLSState()})
	}
	if !o.gotConn {
		o.gotConn = true
		o.push(traceEvent{kind: evGotConn, conn: c, reused: !o.connected})
	}
	return nil
}

func (o *observer) onHeaderOut(block string) {
	if o.wroteHdrs {
		return
	}
	o.wroteHdrs = true
	if o.trace.WroteHeaderField != nil {
		lines := strings.Split(block, "\r\n")
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, ":")
			if ok {
				o.push(traceEvent{kind: evWroteHeaderField, str: k, values: []string{strings.TrimSpace(v)}})
			}
		}
	}
	o.push(traceEvent{kind: evWroteHeaders})
	if !o.hasBody {
		o.wroteRequest(nil)
		return
	}
	// As net/http, which calls Wait100Continue for a request with a body
	// and "Expect: 100-continue" once its header is written, however long
	// it waits (ExpectContinueTimeout, 0 included).
	for l := range strings.SplitSeq(block, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Expect") && hasToken(v, "100-continue") {
			o.push(traceEvent{kind: evWait100})
			break
		}
	}
}

func (o *observer) wroteRequest(err error) {
	if o.wroteReq || !o.wroteHdrs {
		return
	}
	o.wroteReq = true
	o.push(traceEvent{kind: evWroteRequest, err: err})
}

func (o *observer) onHeaderIn(line string) {
	if o.final {
		return // the final block, or trailers
	}
	if !o.firstByte {
		o.firstByte = true
		o.push(traceEvent{kind: evFirstByte})
	}
	if strings.HasPrefix(line, "HTTP/") {
		// A status line ends the 1xx block before it: libcurl shows no
		// blank line after a 1xx block.
		o.end1xx()
		code := curlpoll.StatusCode(line)
		if code >= 100 && code < 200 && code != 101 {
			o.code1xx, o.hdr1xx = code, textproto.MIMEHeader{}
			return
		}
		o.final = true
		o.multiplex = strings.HasPrefix(line, "HTTP/2") || strings.HasPrefix(line, "HTTP/3")
		if o.hasBody && !o.wroteReq && o.code1xx == 0 {
			// The server answered before the body was sent: net/http
			// reports the write as done, libcurl stops sending.
			o.wroteRequest(nil)
		}
		return
	}
	if o.code1xx != 0 {
		if k, v, ok := strings.Cut(line, ":"); ok {
			k = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
			o.hdr1xx[k] = append(o.hdr1xx[k], strings.TrimSpace(v))
		} else if line == "" {
			o.end1xx()
		}
	}
}

func (o *observer) end1xx() {
	if o.code1xx == 0 {
		return
	}
	if o.code1xx == 100 {
		o.push(traceEvent{kind: evGot100})
	}
	o.push(traceEvent{kind: evGot1xx, code: o.code1xx, header: o.hdr1xx})
	o.code1xx, o.hdr1xx = 0, nil
}

// wait waits for the transfer's response header block, or its end,
// delivering events as they come. It runs on RoundTrip's goroutine.
func (o *observer) wait(t *curlpoll.Transfer) {
	for {
		select {
		case <-t.HeaderReady():
		case <-t.Done():
		case <-o.ready:
			o.deliver()
			continue
		}
		o.deliver()
		return
	}
}

// deliver calls the hooks and writes the log records queued so far. Once
// the transfer is over, it also reports what its end implies: connections
// and handshakes that failed, a request that was written.
func (o *observer) deliver() {
	if o.dialled && o.dialsDone.Load() < o.dials.Load() {
		// libcurl is connected to the relay, and may have sent the
		// request to it, while DialContext still dials (and reports
		// ConnectStart and ConnectDone itself): what it did since comes
		// after those, as with net/http. The transfer's end delivers all.
		select {
		case <-o.t.Done():
		default:
			return
		}
	}
	o.deliverMu.Lock()
	defer o.deliverMu.Unlock()
	o.deliverLocked()
	select {
	case <-o.t.Done():
	default:
		return
	}
	if o.ended {
		return
	}
	o.ended = true
	// The driver side is quiet now: the transfer is over.
	err := o.t.Err()
	if err == nil && o.trace != nil && !o.gotConn && o.info().RemoteAddr.IsValid() {
		// No prereq callback (libcurl older than 7.80.0).
		o.push(traceEvent{kind: evGotConn, reused: o.info().Reused, conn: curlpoll.ConnInfo{
			Local: o.info().LocalAddr, Remote: o.info().RemoteAddr,
		}})
	}
	if o.trace != nil {
		for _, a := range o.connecting {
			cerr := err
			if cerr == nil {
				cerr = errors.New("curlpoll: connection attempt abandoned")
			}
			o.push(traceEvent{kind: evConnectDone, str: a, err: cerr})
		}
		o.connecting = nil
		if o.tlsStarted && !o.tlsDone && err != nil {
			o.tlsDone = true
			o.push(traceEvent{kind: evTLSDone, err: err})
		}
		o.end1xx()
		if o.wroteHdrs && !o.wroteReq {
			o.wroteRequest(err)
		}
	}
	o.deliverLocked()
}

func (o *observer) deliverLocked() {
	o.mu.Lock()
	events := o.queue
	o.queue = nil
	dropped := o.dropped
	o.dropped = 0
	o.mu.Unlock()
	for i := range events {
		o.call(&events[i])
	}
	if dropped > 0 && o.logger != nil {
		o.logger.LogAttrs(o.ctx, slog.LevelWarn, "curlpoll: log records dropped",
			slog.Uint64("transfer", o.t.ID()), slog.Int("dropped", dropped))
	}
}

// call runs one event's hook or writes its log record.
func (o *observer) call(ev *traceEvent) {
	ct := o.trace
	switch ev.kind {
	case evLog:
		curlpoll.LogDebug(o.logger, o.t.ID(), ev.debug, []byte(ev.str))
	case evDNSStart:
		if ct.DNSStart != nil {
			ct.DNSStart(httptrace.DNSStartInfo{Host: ev.str})
		}
	case evDNSDone:
		if ct.DNSDone != nil {
			ct.DNSDone(httptrace.DNSDoneInfo{Addrs: ev.addrs})
		}
	case evConnectStart:
		if ct.ConnectStart != nil {
			ct.ConnectStart("tcp", ev.str)
		}
	case evConnectDone:
		if ct.ConnectDone != nil {
			ct.ConnectDone("tcp", ev.str, ev.err)
		}
	case evTLSStart:
		if ct.TLSHandshakeStart != nil {
			ct.TLSHandshakeStart()
		}
	case evTLSDone:
		if ct.TLSHandshakeDone != nil {
			var cs tls.ConnectionState
			if ev.err == nil {
				cs = *ev.tls.ConnectionState(o.serverName, curlpoll.HTTPVersion1_1)
			}
			ct.TLSHandshakeDone(cs, ev.err)
		}
	case evGotConn:
		if ct.GotConn != nil {
			ct.GotConn(httptrace.GotConnInfo{
				Conn:   o.traceConn(ev.conn, ev.reused),
				Reused: ev.reused, WasIdle: ev.reused,
			})
		}
	case evWroteHeaderField:
		if ct.WroteHeaderField != nil {
			ct.WroteHeaderField(ev.str, ev.values)
		}
	case evWroteHeaders:
		if ct.WroteHeaders != nil {
			ct.WroteHeaders()
		}
	case evWroteRequest:
		if ct.WroteRequest != nil {
			ct.WroteRequest(httptrace.WroteRequestInfo{Err: ev.err})
		}
	case evFirstByte:
		if ct.GotFirstResponseByte != nil {
			ct.GotFirstResponseByte()
		}
	case evWait100:
		if ct.Wait100Continue != nil {
			ct.Wait100Continue()
		}
	case evGot100:
		if ct.Got100Continue != nil {
			ct.Got100Continue()
		}
	case evPutIdle:
		if ct.PutIdleConn != nil {
			ct.PutIdleConn(nil)
		}
	case evGot1xx:
		if ct.Got1xxResponse != nil {
			if err := ct.Got1xxResponse(ev.code, ev.header); err != nil && o.hookErr == nil {
				// As net/http: the hook's error ends the request, and
				// RoundTrip returns it.
				o.hookErr = err
				o.t.Abort(err)
			}
		}
	}
}

// traceConn is the net.Conn that GotConn reports: libcurl owns the socket,
// so only the addresses are real; Read and Write fail.
type traceConn struct{ local, remote netip.AddrPort }

// traceConn is GotConnInfo.Conn for the connection c describes: with
// DialContext, that connection's addresses, not those of libcurl's
// loopback connection to it: the request's own dial's, or else the one
// that made the connection it reuses (curlpoll.DialledConnInfo; the
// relay learns them only after DialContext has returned).
func (o *observer) traceConn(c curlpoll.ConnInfo, reused bool) *traceConn {
	if o.dialled {
		if d := o.dialConn.Load(); d != nil && !reused {
			c = *d
		} else {
			c, _ = curlpoll.DialledConnInfo(c.Local)
		}
	}
	return &traceConn{local: c.Local, remote: c.Remote}
}

var errTraceConn = errors.New("curlpoll: the connection belongs to libcurl")

func (c *traceConn) Read([]byte) (int, error)         { return 0, errTraceConn }
func (c *traceConn) Write([]byte) (int, error)        { return 0, errTraceConn }
func (c *traceConn) Close() error                     { return nil }
func (c *traceConn) LocalAddr() net.Addr              { return net.TCPAddrFromAddrPort(c.local) }
func (c *traceConn) RemoteAddr() net.Addr             { return net.TCPAddrFromAddrPort(c.remote) }
func (c *traceConn) SetDeadline(time.Time) error      { return nil }
func (c *traceConn) SetReadDeadline(time.Time) error  { return nil }
func (c *traceConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*traceConn)(nil)

// canonicalAddr returns the URL's host:port, with the scheme's port if it
// has none: the key net/http passes to GetConn.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// info returns the transfer's info once it is over.
func (o *observer) info() curlpoll.TransferInfo {
	i, _ := o.t.Info()
	return i
}

// notify wakes the receiver of c, if it is not awake already.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
