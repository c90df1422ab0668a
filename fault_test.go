package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

// newFaultServer starts a fault server that is closed at the end of the test.
func newFaultServer(t testing.TB) *faultserver.Server {
	t.Helper()
	s, err := faultserver.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// faultCase is what a caller must see for one fault.
type faultCase struct {
	f     faultserver.Fault
	query string
	// want checks the error of the transfer (and, when it succeeded, the
	// body) in mode m.
	want faultCheck
	// stall: the fault never ends by itself; faultDeadline ends it.
	stall bool
}

type faultCheck func(m faultserver.Mode, body []byte, err error) error

// isCode asks for one of codes.
func isCode(codes ...curlpoll.Code) faultCheck {
	return func(_ faultserver.Mode, _ []byte, err error) error {
		for _, c := range codes {
			if errors.Is(err, c) {
				return nil
			}
		}
		return fmt.Errorf("error %v, want one of %v", err, codes)
	}
}

func isDeadline(_ faultserver.Mode, _ []byte, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return fmt.Errorf("error %v, want context.DeadlineExceeded", err)
}

func bodyIs(n int) faultCheck {
	return func(_ faultserver.Mode, body []byte, err error) error {
		if err != nil || !bytes.Equal(body, faultserver.Body(n)) {
			return fmt.Errorf("%d bytes, %v; want %d bytes and no error", len(body), err, n)
		}
		return nil
	}
}

func bodyOK(_ faultserver.Mode, body []byte, err error) error {
	if err != nil || string(body) != "ok" {
		return fmt.Errorf("%q, %v; want \"ok\"", body, err)
	}
	return nil
}

// byVersion checks HTTP/1 with h1 and HTTP/2 with h2.
func byVersion(h1, h2 faultCheck) faultCheck {
	return func(m faultserver.Mode, body []byte, err error) error {
		if m.HTTP2() {
			return h2(m, body, err)
		}
		return h1(m, body, err)
	}
}

// sinceLibcurl checks with since on libcurl major.minor or newer, and with
// before on older ones: for an outcome libcurl changed in that version.
func sinceLibcurl(major, minor int, before, since faultCheck) faultCheck {
	return func(m faultserver.Mode, body []byte, err error) error {
		if libcurlAtLeast(major, minor) {
			return since(m, body, err)
		}
		return before(m, body, err)
	}
}

// closed checks a fault that ends with the server closing the connection:
// with plain, and over TLS where libcurl takes a close without close_notify
// for an error (see libcurlTLSEOFIsError) with a receive or send error.
func closed(plain faultCheck) faultCheck {
	return func(m faultserver.Mode, body []byte, err error) error {
		if (m == faultserver.TLS1 || m == faultserver.TLS2) && libcurlTLSEOFIsError() {
			return isCode(curlpoll.ErrRecvError, curlpoll.ErrSendError)(m, body, err)
		}
		return plain(m, body, err)
	}
}

// transportTLSEOFIsPlain reports whether, through the Transport, a TLS
// close without close_notify in mode m has the outcome of a clear-text
// close: the Transport takes OpenSSL's "unexpected eof while reading"
// under HTTP/1 for the end of the stream, as net/http does
// (curlhttp's tlsCutShort).
func transportTLSEOFIsPlain(m faultserver.Mode) bool { return m == faultserver.TLS1 }

// The outcomes libcurl reports for each fault. Where 7.88.1 and 8.14.1
// differ, sinceLibcurl names the version that changed it, from curl's
// history; where that is not known, 8.0.
var faultCases = []faultCase{
	{f: faultserver.OK, query: "", want: bodyIs(1000)},
	{f: faultserver.Refuse, query: "", want: isCode(curlpoll.ErrCouldntConnect)},
	{f: faultserver.Silent, query: "", want: isDeadline, stall: true},
	{f: faultserver.StallHeaders, query: "", want: isDeadline, stall: true},
	{f: faultserver.StallMidHeaders, query: "", want: isDeadline, stall: true},
	{f: faultserver.StallMidBody, query: "", want: isDeadline, stall: true},
	// A reset before any response: HTTP/1 finds it reading, HTTP/2 may
	// find it writing its SETTINGS acknowledgement.
	{f: faultserver.RSTHeaders, query: "", want: isCode(curlpoll.ErrRecvError, curlpoll.ErrSendError)},
	{f: faultserver.RSTMidHeaders, query: "", want: isCode(curlpoll.ErrRecvError)},
	{f: faultserver.RSTMidBody, query: "", want: isCode(curlpoll.ErrRecvError, curlpoll.ErrSendError)}, // HTTP/2 may be writing a WINDOW_UPDATE
	{f: faultserver.CloseMidBody, query: "", want: closed(isCode(curlpoll.ErrPartialFile))},
	{f: faultserver.CloseMidChunked, query: "", want: closed(isCode(curlpoll.ErrPartialFile))},
	{f: faultserver.CloseNoLength, query: "", want: closed(bodyIs(1000))},
	// Bytes that are not a status line: libcurl 7.88 takes them for
	// HTTP/0.9, which it refuses; from 8.7 it calls them an invalid status
	// line, or still HTTP/0.9 when its first read got only a few of them.
	{f: faultserver.Garbage, query: "", want: sinceLibcurl(8, 7,
		isCode(curlpoll.ErrUnsupportedProtocol), isCode(curlpoll.ErrUnsupportedProtocol, curlpoll.ErrWeirdServerReply))},
	// A header line over 100 KB: CURLE_OUT_OF_MEMORY in 7.88,
	// CURLE_TOO_LARGE from 8.6; a header block over 300 KB:
	// CURLE_RECV_ERROR.
	{f: faultserver.LongStatusLine, query: "", want: sinceLibcurl(8, 6,
		isCode(curlpoll.ErrOutOfMemory), isCode(curlpoll.ErrTooLarge))},
	{f: faultserver.HugeHeader, query: "", want: isCode(curlpoll.ErrRecvError)},
	{f: faultserver.HugeHeader, query: "n=100000", want: bodyOK},
	// 10,000 fields: 7.88 takes them over HTTP/1.1 and its header callback
	// to nghttp2 refuses them over HTTP/2; 8.14 refuses more than 5,000
	// fields (CURLE_TOO_LARGE).
	{f: faultserver.ManyHeaders, query: "", want: sinceLibcurl(8, 14,
		byVersion(bodyOK, isCode(curlpoll.ErrRecvError)), isCode(curlpoll.ErrTooLarge))},
	{f: faultserver.ManyHeaders, query: "n=500", want: bodyOK},
	{f: faultserver.BadChunk, query: "", want: isCode(curlpoll.ErrRecvError)},
	{f: faultserver.Trickle, query: "n=100&gap=200us", want: bodyIs(100)},
	// GOAWAY with an error and the connection closed mid-body: 7.88 says
	// CURLE_HTTP2, 8.14 CURLE_RECV_ERROR (or, over TLS, a send error on
	// the closed connection).
	{f: faultserver.H2GoAway, query: "", want: sinceLibcurl(8, 0,
		isCode(curlpoll.ErrHTTP2), isCode(curlpoll.ErrRecvError, curlpoll.ErrSendError))},
	{f: faultserver.H2RSTStream, query: "", want: isCode(curlpoll.ErrHTTP2Stream)},
	{f: faultserver.TLSHandshakeFail, query: "", want: isCode(curlpoll.ErrSSLConnectError)},
	{f: faultserver.TLSHandshakeStall, query: "", want: isDeadline, stall: true},
	{f: faultserver.TLSExpired, query: "", want: isCode(curlpoll.ErrPeerFailedVerification)},
	{f: faultserver.TLSWrongHost, query: "", want: isCode(curlpoll.ErrPeerFailedVerification)},
}

// faultDeadline ends the stalls; faultLimit bounds the other faults, which
// end by themselves (10,000 header fields take a while under -race).
const (
	faultDeadline = 300 * time.Millisecond
	faultLimit    = 10 * time.Second
)

func (fc faultCase) deadline() time.Duration {
	if fc.stall {
		return faultDeadline
	}
	return faultLimit
}

// setupEasy points e at url in mode, trusting the fault server's CA.
func setupEasy(t testing.TB, e *curlpoll.Easy, s *faultserver.Server, mode faultserver.Mode, url string) {
	t.Helper()
	must(t, e.SetURL(url))
	must(t, e.SetCAInfoBlob(s.CAPEM()))
	switch mode {
	case faultserver.H2C:
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2PriorKnown))
		// libcurl 7.88 cannot reuse a prior-knowledge connection
		// (curl#10634): see TestTransportH2CReuse.
		must(t, e.SetForbidReuse(true))
	case faultserver.TLS2:
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2TLS))
	default:
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion1_1))
	}
}

// healthy starts a 200 KB transfer on m and returns a function that
// checks it ended well.
func healthy(t *testing.T, m *curlpoll.Multi, s *faultserver.Server, mode faultserver.Mode) func() {
	e, err := curlpoll.NewEasy()
	if err != nil {
		t.Fatal(err)
	}
	setupEasy(t, e, s, mode, s.URL(faultserver.OK, mode, "n=200000"))
	tr, err := m.Start(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var buf bytes.Buffer
		_, err := tr.WriteTo(&buf)
		if err == nil && !bytes.Equal(buf.Bytes(), faultserver.Body(200000)) {
			err = fmt.Errorf("healthy transfer: %d bytes, wrong body", buf.Len())
		}
		tr.Close()
		e.Close()
		done <- err
	}()
	return awaitHealthy(t, done, "transfer")
}

// awaitHealthy returns the check for a healthy transfer or request (what)
// running beside a fault: it must end, within 5 s, without error.
func awaitHealthy(t *testing.T, done <-chan error, what string) func() {
	return func() {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the healthy %s beside the fault: %v", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the healthy %s beside the fault did not end", what)
		}
	}
}

// TestFaultsMulti runs every fault through Multi.Do in every mode, each
// beside a healthy transfer on the same Multi, and checks the error the
// caller gets, that the healthy transfer is unaffected, and that nothing
// leaks.
func TestFaultsMulti(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	for _, mode := range faultserver.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			m := newMulti(t)
			// One connection per transfer, as on libcurl 7.88: a fault
			// that ends an HTTP/2 connection ends every stream on it
			// (TestFaultOnSharedConnection), and the healthy transfer
			// must not share the fault's.
			must(t, m.SetMultiplex(false))
			for _, fc := range faultCases {
				if !faultserver.Supports(fc.f, mode) {
					continue
				}
				t.Run(string(fc.f)+"?"+fc.query, func(t *testing.T) {
					check := healthy(t, m, s, mode)
					e := newEasy(t, "")
					setupEasy(t, e, s, mode, s.URL(fc.f, mode, fc.query))
					var body bytes.Buffer
					must(t, e.SetWriter(&body))
					ctx, cancel := context.WithTimeout(context.Background(), fc.deadline())
					defer cancel()
					start := time.Now()
					err := m.Do(ctx, e)
					if el := time.Since(start); el > fc.deadline()+time.Second {
						t.Errorf("Do took %v", el)
					}
					if werr := fc.want(mode, body.Bytes(), err); werr != nil {
						t.Error(werr)
					}
					check()
				})
			}
			// The Multi still works after every fault.
			healthy(t, m, s, mode)()
			if st, err := m.Stats(); err != nil || st.Active != 0 {
				t.Errorf("after the faults: %+v, %v", st, err)
			}
		})
	}
}

// TestFaultStallsTimeOut checks that libcurl's own time limit ends a
// stall with an error that is a net.Error whose Timeout is true.
func TestFaultStallsTimeOut(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	m := newMulti(t)
	for _, f := range []faultserver.Fault{faultserver.Silent, faultserver.StallHeaders, faultserver.StallMidHeaders, faultserver.StallMidBody} {
		for _, mode := range faultserver.Modes {
			if !faultserver.Supports(f, mode) {
				continue
			}
			e := newEasy(t, "")
			setupEasy(t, e, s, mode, s.URL(f, mode, ""))
			must(t, e.SetTimeout(200*time.Millisecond))
			err := m.Do(context.Background(), e)
			var ne net.Error
			if !errors.Is(err, curlpoll.ErrOperationTimedOut) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("%s/%s: %v, want ErrOperationTimedOut, a net.Error with Timeout()", f, mode, err)
			}
		}
	}
}

// transportFor returns a Transport for mode, trusting the fault server.
func transportFor(s *faultserver.Server, mode faultserver.Mode) *curlhttp.Transport {
	tr := &curlhttp.Transport{CAPEM: s.CAPEM()}
	var p http.Protocols
	switch mode {
	case faultserver.H2C:
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	case faultserver.TLS1:
		p.SetHTTP1(true)
		tr.Protocols = &p
	}
	return tr
}

// roundTrip runs a GET through c and reads the whole body.
func roundTrip(ctx context.Context, c *http.Client, url string) (*http.Response, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	return do(c, req)
}

// do runs req through c and reads the whole body.
func do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// curlCode is err with the errors of net/http that the Transport returns in
// place of curl's taken back to curl's code, so that the outcomes of
// faultCases and stormFaults hold for the Transport too: io.ErrUnexpectedEOF
// itself for a body cut short (ErrPartialFile), io.EOF itself for no
// response (ErrGotNothing).
func curlCode(err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	switch inner {
	case io.ErrUnexpectedEOF:
		return curlpoll.ErrPartialFile
	case io.EOF:
		return curlpoll.ErrGotNothing
	}
	return err
}

// TestFaultsTransport runs every fault through the Transport in every
// mode, beside a healthy request on the same Transport.
func TestFaultsTransport(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	for _, mode := range faultserver.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			tr := transportFor(s, mode)
			defer tr.Close()
			c := &http.Client{Transport: tr}
			// The healthy requests run on a Transport of their own: with
			// HTTP/2 multiplexing (libcurl 8.1+), a request beside a
			// fault would share its connection and its fate
			// (TestFaultOnSharedConnection).
			trHealthy := transportFor(s, mode)
			defer trHealthy.Close()
			cHealthy := &http.Client{Transport: trHealthy}
			healthyReq := func() func() {
				done := make(chan error, 1)
				go func() {
					resp, body, err := roundTrip(context.Background(), cHealthy, s.URL(faultserver.OK, mode, "n=200000"))
					if err == nil && (!bytes.Equal(body, faultserver.Body(200000)) || resp.ProtoMajor == 2 != mode.HTTP2()) {
						err = fmt.Errorf("%s, %d bytes", resp.Proto, len(body))
					}
					done <- err
				}()
				return awaitHealthy(t, done, "request")
			}
			for _, fc := range faultCases {
				if !faultserver.Supports(fc.f, mode) {
					continue
				}
				t.Run(string(fc.f)+"?"+fc.query, func(t *testing.T) {
					check := healthyReq()
					ctx, cancel := context.WithTimeout(context.Background(), fc.deadline())
					defer cancel()
					_, body, err := roundTrip(ctx, c, s.URL(fc.f, mode, fc.query))
					want := fc.want
					if transportTLSEOFIsPlain(mode) {
						// closed's outcome for a clear-text mode.
						want = func(_ faultserver.Mode, body []byte, err error) error {
							return fc.want(faultserver.HTTP1, body, err)
						}
					}
					if werr := want(mode, body, curlCode(err)); werr != nil {
						t.Error(werr)
					}
					// What net/http users test for comes along.
					switch {
					case fc.f == faultserver.Refuse && !errors.Is(err, syscall.ECONNREFUSED):
						t.Errorf("%v is not ECONNREFUSED", err)
					// libcurl 7.88 records the errno of a reset in clear text
					// only: under TLS and HTTP/2 it comes from the error text,
					// where that names one (errno.go), so only clear text is
					// checked.
					case (fc.f == faultserver.RSTMidBody || fc.f == faultserver.RSTMidHeaders) && mode == faultserver.HTTP1 && !errors.Is(err, syscall.ECONNRESET):
						t.Errorf("%v is not ECONNRESET", err)
					case err != nil && strings.Contains(err.Error(), "curlpoll: closed"):
						t.Errorf("%v: a fault must not look like a shutdown", err)
					}
					check()
				})
			}
			healthyReq()()
			// The faults' Transport still works too.
			if resp, body, err := roundTrip(context.Background(), c, s.URL(faultserver.OK, mode, "")); err != nil || !bytes.Equal(body, faultserver.Body(1000)) {
				t.Errorf("after the faults: %v, %v", resp, err)
			}
		})
	}
}

// TestFaultOnSharedConnection checks what libcurl's HTTP/2 multiplexing
// means for a fault: with it (NewMulti's default from libcurl 8.1.0), a
// transfer that shares a connection with a stream whose server sends
// GOAWAY and closes fails with it; without it (the default before 8.1.0),
// each transfer has a connection of its own and the other one succeeds.
func TestFaultOnSharedConnection(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	m := newMulti(t)
	setup := func(e *curlpoll.Easy) {
		must(t, e.SetHTTPVersion(curlpoll.HTTPVersion2PriorKnown))
		must(t, e.SetPipeWait(true))
	}
	e := newEasy(t, s.URL(faultserver.Trickle, faultserver.H2C, "n=3000&gap=1ms"))
	setup(e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := m.Start(ctx, e)
	must(t, err)
	defer tr.Close()
	if _, err := tr.Header(); err != nil { // the connection is up and has seen a response
		t.Fatal(err)
	}
	f := newEasy(t, s.URL(faultserver.H2GoAway, faultserver.H2C, ""))
	setup(f)
	ferr := m.Do(ctx, f)
	_, err = io.Copy(io.Discard, tr)
	multiplexed := curlpoll.LibcurlMultiplexSafe()
	switch {
	case ferr == nil:
		t.Errorf("the GOAWAY transfer succeeded")
	case multiplexed && !errors.Is(err, curlpoll.ErrRecvError) && !errors.Is(err, curlpoll.ErrHTTP2):
		t.Errorf("multiplexed: the other stream ended with %v, want the connection's error", err)
	case !multiplexed && err != nil:
		t.Errorf("one connection each: the other transfer failed: %v", err)
	}
}

// TestTransportH2CReuse is a regression test: libcurl before 8.0.0 fails
// every request after the first on a reused prior-knowledge HTTP/2
// connection with CURLE_HTTP2 (curl#10634), so the Transport's h2c
// requests failed from the second on.
func TestTransportH2CReuse(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	tr := transportFor(s, faultserver.H2C)
	defer tr.Close()
	c := &http.Client{Transport: tr}
	for i := range 5 {
		resp, body, err := roundTrip(context.Background(), c, s.URL(faultserver.OK, faultserver.H2C, "n=10"))
		if err != nil || resp.ProtoMajor != 2 || string(body) != string(faultserver.Body(10)) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

// TestErrorCarriesErrno is a regression test: a transfer's *Error carries
// the errno libcurl saw, so that errors.Is(err, syscall.ECONNRESET) holds
// for a Multi user, and for a Transport body that failed mid-way (the
// Transport looked the errno up only for errors before the response, on a
// handle that could already be reset).
func TestErrorCarriesErrno(t *testing.T) {
	checkLeaks(t)
	s := newFaultServer(t)
	m := newMulti(t)
	for _, c := range []struct {
		f     faultserver.Fault
		errno syscall.Errno
	}{{faultserver.Refuse, syscall.ECONNREFUSED}, {faultserver.RSTMidBody, syscall.ECONNRESET}} {
		e := newEasy(t, s.URL(c.f, faultserver.HTTP1, ""))
		err := m.Do(context.Background(), e)
		var ce *curlpoll.Error
		if !errors.As(err, &ce) || ce.Errno != c.errno || !errors.Is(err, c.errno) {
			t.Errorf("%s: %v, want an *Error with Errno %v", c.f, err, c.errno)
		}
	}
	tr := transportFor(s, faultserver.HTTP1)
	defer tr.Close()
	_, _, err := roundTrip(context.Background(), &http.Client{Transport: tr}, s.URL(faultserver.RSTMidBody, faultserver.HTTP1, ""))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Transport body: %v, want ECONNRESET", err)
	}
}
