package curlhttp_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// FuzzStatusLine: parsing a status line never panics, and what it accepts
// is a three-digit code and a known protocol.
func FuzzStatusLine(f *testing.F) {
	for _, s := range []string{"HTTP/1.1 200 OK", "HTTP/2 200", "HTTP/1.0 404", "HTTP/1.1  301 Moved", "HTTP/3 599 x", "HTTP/1.1 99 x", "HTTP/1.1 2000 x", "HTTP/9.9 200 OK", "ICY 200 OK", "HTTP/1.1 +20 OK", "HTTP/1.1 -20 OK", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		resp, err := curlhttp.ParseStatusLine(line)
		code := curlpoll.StatusCode(line)
		if err != nil {
			return
		}
		if resp.StatusCode < 100 || resp.StatusCode > 999 {
			t.Fatalf("%q: status %d", line, resp.StatusCode)
		}
		if code != resp.StatusCode {
			t.Fatalf("%q: StatusCode %d, parseStatusLine %d", line, code, resp.StatusCode)
		}
		if resp.ProtoMajor < 0 || !strings.HasPrefix(resp.Proto, "HTTP/") {
			t.Fatalf("%q: proto %q", line, resp.Proto)
		}
	})
}

// FuzzHeaderLines: header lines from the wire become the http.Header
// net/http's client makes of them (net/textproto's ReadMIMEHeader on the
// same lines), or an error where it returns one; nothing panics.
func FuzzHeaderLines(f *testing.F) {
	f.Add("Content-Type: text/plain\nX-A:  b \n folded\n\tmore\nnocolon\n: empty name\ncontent-length:5")
	f.Add(" leading fold\nA:\nA: 2")
	f.Add("Trailer: X\x00Y\nX-\xff: \xfe")
	f.Add("A: \u00a0x\u00a0\n")
	f.Add("A-Field-Name: x\x00y\nB: 1\n")
	f.Add("A-Field-Name: 0123456789\rx\n")
	f.Add("X-Sp : v\nA: b\n \nC:\n c\n")
	f.Add("a b: c\nX-Tab\t: v\n")
	// More fields than parseHeaderBlock compares keys for (16), repeated
	// before and after.
	var many strings.Builder
	for i := range 18 {
		fmt.Fprintf(&many, "F%d: %d\n", i, i)
	}
	f.Add(many.String() + "F0: x\nF15: y\nF16: z\nF17: w\nf16: v\n")
	f.Add(many.String()[:strings.Index(many.String(), "F16")] + "F3: r\nF16: s\n")
	f.Add(many.String()[:strings.Index(many.String(), "F16")] + "F15: x\n")
	f.Fuzz(func(t *testing.T, block string) { headerBlockAsTextproto(t, block) })
}

// headerBlockAsTextproto checks that parseHeaderBlock takes or refuses a
// block (libcurl's lines, LF-ended) as net/textproto takes or refuses its
// wire form, with the same fields.
func headerBlockAsTextproto(t testing.TB, block string) {
	t.Helper()
	h, err := curlhttp.ParseHeaderBlock(block)
	// The wire's form of the lines: CRLF, and the blank line that
	// ends the block (libcurl passes a block's lines without it).
	wire := strings.ReplaceAll(block, "\n", "\r\n")
	if block != "" && !strings.HasSuffix(block, "\n") {
		wire += "\r\n"
	}
	m, netErr := textproto.NewReader(bufio.NewReader(strings.NewReader(wire + "\r\n"))).ReadMIMEHeader()
	switch {
	case (err == nil) != (netErr == nil):
		t.Fatalf("%q: ours %v, net/textproto's %v", block, err, netErr)
	case err == nil && len(h)+len(m) > 0 && !reflect.DeepEqual(map[string][]string(h), map[string][]string(m)):
		t.Fatalf("%q: ours %q, net/textproto's %q", block, h, m)
	}
}

// TestHeaderBlockAsTextproto: random blocks of up to 60 lines over names
// that are one after canonicalization, with fields repeated before and
// after the 16th distinct one (parseHeaderBlock's seenKeys) and folded
// lines (from the review of 94988dd, which found that no fuzz seed
// repeated the 16th field).
func TestHeaderBlockAsTextproto(t *testing.T) {
	names := []string{"content-type", "Content-Type", "CONTENT-TYPE", "ETag", "etag", "Etag",
		"x-a", "X-A", "a b", "A B", "www-authenticate", "WWW-Authenticate", "Www-Authenticate"}
	for i := range 40 {
		names = append(names, fmt.Sprintf("F%d", i), fmt.Sprintf("f%d", i))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		distinct := 1 + r.IntN(len(names))
		for j := range 1 + r.IntN(60) {
			if j > 0 && r.IntN(8) == 0 {
				fmt.Fprintf(&b, "%sfold%d\n", []string{" ", "\t", "  "}[r.IntN(3)], j)
				continue
			}
			fmt.Fprintf(&b, "%s:%s%d\n", names[r.IntN(distinct)], []string{"", " ", "  "}[r.IntN(3)], j)
		}
		headerBlockAsTextproto(t, b.String())
	}
}

// FuzzRequest: a request the Transport accepts yields header lines and a
// URL with no byte that could end a line or the request line early (CR,
// LF, NUL, other controls), whatever the method, header names and values,
// URL and Host.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "http://127.0.0.1:8080/a?b=c", "X-Name", "value", "")
	f.Add("POST", "https://example.com/", "Content-Type", "a\r\nX: y", "h\r\nX: y")
	f.Add("G\nET", "http://h/", "A\x00B", "v", "")
	f.Add("GET", "http://[::1%25en0]:80/", "User-Agent", "ua", "host:80")
	f.Add("GET", "http://h/p%0d%0aX", "X", "\x7f", "")
	f.Add("GET", "ftp://h/", "X", "v", "")
	f.Fuzz(func(t *testing.T, method, rawURL, name, value, host string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		// Raw fields a caller may set by hand, bypassing url.Parse.
		for _, u2 := range []*url.URL{u, {Scheme: u.Scheme, Host: u.Host, Opaque: value}, {Scheme: u.Scheme, Host: u.Host, Path: "/", RawQuery: value}} {
			req := &http.Request{Method: method, URL: u2, Header: http.Header{name: {value}}, Host: host}
			if curlhttp.ValidateRequest(req) != nil {
				continue
			}
			for _, l := range curlhttp.RequestHeaderLines(req, true, true, true) {
				if hasCTL(l, true) {
					t.Fatalf("header line %q for %+v", l, req)
				}
			}
			if target := curlhttp.RequestTarget(u2); hasCTL(target, false) {
				t.Fatalf("URL %q", target)
			}
			if strings.ContainsAny(method, "\r\n\x00 ") {
				t.Fatalf("method %q accepted", method)
			}
		}
	})
}

// hasCTL reports a control byte; tab is allowed in header lines.
func hasCTL(s string, tab bool) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && !(tab && b == '\t')) || b == 0x7f {
			return true
		}
	}
	return false
}
