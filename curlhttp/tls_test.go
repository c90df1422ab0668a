package curlhttp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

func TestTransportHTTP2TLS(t *testing.T) {
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-T")
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Host", r.Host)
		io.WriteString(w, "hello "+r.Proto)
		// No Content-Length: libcurl 7.88 ends an HTTP/2 response with one
		// at its last byte, before the trailers arrive, and drops them.
		w.(http.Flusher).Flush()
		w.Header().Set("X-T", "done")
	}))

	t.Run("h2 by ALPN", func(t *testing.T) {
		tr := &curlhttp.Transport{CAPEM: ca}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 || string(b) != "hello HTTP/2.0" || resp.Status != "200 OK" {
			t.Errorf("%s %s %q", resp.Proto, resp.Status, b)
		}
		if resp.Trailer.Get("X-T") != "done" {
			t.Errorf("trailer %v", resp.Trailer)
		}
		cs := resp.TLS
		if cs == nil {
			t.Fatal("no Response.TLS")
		}
		if cs.Version != tls.VersionTLS13 || cs.CipherSuite == 0 || cs.NegotiatedProtocol != "h2" {
			t.Errorf("TLS state: version %x cipher %x proto %q", cs.Version, cs.CipherSuite, cs.NegotiatedProtocol)
		}
		if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(srv.Certificate()) {
			t.Errorf("peer certificates: %d", len(cs.PeerCertificates))
		}
	})

	t.Run("same as net/http", func(t *testing.T) {
		var results []string
		for _, rt := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			std.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			std.ForceAttemptHTTP2 = true
			cp.CAPEM = ca
			cp.TLSClientConfig = &tls.Config{}
			cp.ForceAttemptHTTP2 = true
		}) {
			resp, err := rt.rt.RoundTrip(mustReq("GET", srv.URL+"/x", nil))
			g := observe(resp, err)
			results = append(results, strings.ReplaceAll(fmtGot(g), "Date", ""))
			if err == nil && (resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2") {
				t.Errorf("%s: TLS %+v", rt.name, resp.TLS)
			}
		}
		if results[0] != results[1] {
			t.Errorf("differ:\nnet/http: %s\ncurlpoll: %s", results[0], results[1])
		}
	})

	t.Run("TLSClientConfig without ForceAttemptHTTP2 is HTTP/1.1", func(t *testing.T) {
		tr := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{}}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Proto != "HTTP/1.1" || resp.TLS.NegotiatedProtocol == "h2" {
			t.Errorf("%s %q", resp.Proto, resp.TLS.NegotiatedProtocol)
		}
	})

	t.Run("NextProtos without h2", func(t *testing.T) {
		tr := &curlhttp.Transport{CAPEM: ca, ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{NextProtos: []string{"http/1.1"}}}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Proto != "HTTP/1.1" {
			t.Errorf("%s", resp.Proto)
		}
	})

	t.Run("MaxVersion TLS 1.2", func(t *testing.T) {
		tr := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12}}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.TLS.Version != tls.VersionTLS12 || tls.CipherSuiteName(resp.TLS.CipherSuite) == "" {
			t.Errorf("version %x cipher %x", resp.TLS.Version, resp.TLS.CipherSuite)
		}
	})

	t.Run("verification fails without the CA", func(t *testing.T) {
		tr := &curlhttp.Transport{}
		defer tr.Close()
		_, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		var ce *curlpoll.Error
		if !errors.As(err, &ce) || !errors.Is(err, curlpoll.ErrPeerFailedVerification) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})

	t.Run("ServerName", func(t *testing.T) {
		// The test certificate is for 127.0.0.1 and example.com.
		tr := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{ServerName: "example.com"}}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Host"); got != strings.TrimPrefix(srv.URL, "https://") {
			t.Errorf("Host seen by the server: %q", got)
		}
		tr2 := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{ServerName: "wrong.example"}}
		defer tr2.Close()
		if _, err := tr2.RoundTrip(mustReq("GET", srv.URL, nil)); err == nil {
			t.Error("a wrong ServerName verified")
		}
		// Other spellings crypto/tls verifies for the same name.
		for _, sn := range []string{"EXAMPLE.com", "example.com.", "127.0.0.1"} {
			tr := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{ServerName: sn}}
			if _, err := getBody(tr, srv.URL); err != nil {
				t.Errorf("ServerName %q: %v", sn, err)
			}
			tr.Close()
		}
	})
}

func fmtGot(g got) string {
	g.Header.Del("Date")
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(sprint(g), "\n", " "), "  ", " "))
}

// TestTransportClientCertificate checks mutual TLS with
// TLSClientConfig.Certificates.
func TestTransportClientCertificate(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", 401)
			return
		}
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.String())
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	ca := serverCAPEM(srv)
	// The server's own certificate serves as the client's.
	cert := srv.TLS.Certificates[0]
	tr := &curlhttp.Transport{CAPEM: ca, TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	defer tr.Close()
	resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
	if !curlpoll.ClientCertBlobsSupported() {
		// GnuTLS: libcurl would send the request without the certificate.
		if !errors.Is(err, curlpoll.ErrClientCertBlobUnsupported) || requests.Load() != 0 {
			t.Fatalf("%v, %d requests seen; want ErrClientCertBlobUnsupported and none sent", err, requests.Load())
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Acme") {
		t.Errorf("%d %q", resp.StatusCode, b)
	}
}

// TestTransportGetClientCertificate: TLSClientConfig.GetClientCertificate
// is asked, as crypto/tls asks it, when the server requests a certificate
// (with the authorities it accepts), and what it gives is sent, its
// Certificates ignored; its error fails the request, an empty certificate
// sends none. It was refused with ErrUnsupportedTLSConfig, and still is
// where libcurl does not run on the OpenSSL curlpoll links.
func TestTransportGetClientCertificate(t *testing.T) {
	ca, caKey := clientCertCA(t, "the client's authority")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := clientCertLeaf(t, "the client", ca, caKey, key)
	clientCert := *cert
	other, _, _ := selfSigned(t, "ignored")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := clientCertServer(t, &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool})
	defer srv.Close()

	boom := errors.New("no certificate today")
	for _, tc := range []struct {
		name string
		give func() (*tls.Certificate, error)
		want string // the server's answer, or the error's text
		err  error
	}{
		{"a certificate", func() (*tls.Certificate, error) { return &clientCert, nil }, "the client", nil},
		{"an empty certificate", func() (*tls.Certificate, error) { return &tls.Certificate{}, nil }, "none", nil},
		{"an error", func() (*tls.Certificate, error) { return nil, boom }, "", boom},
	} {
		for _, std := range []bool{true, false} {
			var asked []*tls.CertificateRequestInfo
			conf := &tls.Config{
				InsecureSkipVerify: true,
				Certificates:       []tls.Certificate{other}, // ignored, as crypto/tls ignores it
				GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
					asked = append(asked, info)
					return tc.give()
				},
			}
			var rt http.RoundTripper = &http.Transport{TLSClientConfig: conf}
			name := "net/http"
			if !std {
				rt, name = &curlhttp.Transport{TLSClientConfig: conf}, "curlpoll"
			}
			resp, err := rt.RoundTrip(mustReq("GET", srv.URL, nil))
			if !std && !curlpoll.ClientCertFuncSupported() {
				if !errors.Is(err, curlhttp.ErrUnsupportedTLSConfig) {
					t.Errorf("%s, %s on %s: %v, want ErrUnsupportedTLSConfig", tc.name, name, curlpoll.Version().TLS, err)
				}
				rt.(*curlhttp.Transport).Close()
				continue
			}
			got := ""
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got = string(b)
			}
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("%s, %s: %q, %v; want the function's error", tc.name, name, got, err)
			case tc.err == nil && (err != nil || got != tc.want):
				t.Errorf("%s, %s: %q, %v; want %q", tc.name, name, got, err, tc.want)
			}
			if len(asked) != 1 || len(asked[0].AcceptableCAs) != 1 || !bytes.Equal(asked[0].AcceptableCAs[0], ca.RawSubject) {
				t.Errorf("%s, %s: asked %d times, for %v; want once, for the client's authority", tc.name, name, len(asked), asked)
			}
			if c, ok := rt.(interface{ Close() error }); ok {
				c.Close()
			} else {
				rt.(*http.Transport).CloseIdleConnections()
			}
		}
	}
}

// TestTransportHTTP2SlowConsumer checks that a stream whose reader does not
// read does not stall others to the same server, and that cancelling it
// leaks nothing.
func TestTransportHTTP2SlowConsumer(t *testing.T) {
	big := strings.Repeat("x", 4<<20)
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "small")
	}))
	base := openFDs(t)
	tr := &curlhttp.Transport{CAPEM: ca}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/big", nil)
	slow, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if slow.ProtoMajor != 2 {
		t.Fatalf("proto %s", slow.Proto)
	}
	buf := make([]byte, 1000)
	io.ReadFull(slow.Body, buf) // then stop reading: the stream pauses

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/small", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error("stalled behind a paused stream:", err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "small" {
				t.Errorf("%q %v", b, err)
			}
		})
	}
	wg.Wait()

	cancel()
	if _, err := slow.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
	slow.Body.Close()
	tr.Close()
	srv.CloseClientConnections()
	waitFDs(t, base)
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

func TestTransportH2CAndKeepAliveOverH2(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	t.Run("h2c when Protocols asks", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(h)
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		defer srv.Close()
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr := &curlhttp.Transport{Protocols: &p}
		defer tr.Close()
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/2.0" || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s %q", resp.Proto, b)
		}
	})
	t.Run("DisableKeepAlives and req.Close over h2", func(t *testing.T) {
		srv, ca := newTLSServer(t, h)
		tr := &curlhttp.Transport{CAPEM: ca, DisableKeepAlives: true}
		defer tr.Close()
		for range 2 {
			req := mustReq("GET", srv.URL, nil)
			req.Close = true
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "HTTP/2.0" {
				t.Errorf("%s %q", resp.Proto, b)
			}
		}
	})
}

// TestTransportPeerCertificatesEveryResponse checks Response.TLS's chain on
// every response of kept-alive connections to two servers with different
// certificates, requests alternating between them: parsed certificates are
// reused, and must stay with the server that presented them.
func TestTransportPeerCertificatesEveryResponse(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv1 := httptest.NewTLSServer(h)
	defer srv1.Close()
	second, _, _ := selfSigned(t, "second")
	der := second.Certificate[0]
	srv2 := httptest.NewUnstartedServer(h)
	srv2.TLS = &tls.Config{Certificates: []tls.Certificate{second}}
	srv2.StartTLS()
	defer srv2.Close()

	var ca []byte
	for _, c := range [][]byte{srv1.Certificate().Raw, der} {
		ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	tr := &curlhttp.Transport{CAPEM: ca}
	defer tr.Close()
	for i := range 6 {
		srv, want := srv1, srv1.Certificate().Raw
		if i%2 == 1 {
			srv, want = srv2, der
		}
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) != 1 || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, want) {
			t.Fatalf("request %d: peer certificates %v, want the one certificate of %s", i, resp.TLS, srv.URL)
		}
		if info, ok := curlhttp.ResponseInfo(resp); !ok || (i >= 2 && !info.Reused) {
			t.Errorf("request %d: connection reused %v (info %v); want the kept-alive one", i, info.Reused, ok)
		}
	}
}

// TestTransportLongPeerChain checks Response.TLS for a server that sends a
// chain of five certificates (leaf and four intermediates), more than
// curlpoll first makes room for when it reads the chain.
func TestTransportLongPeerChain(t *testing.T) {
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	type node struct {
		cert *x509.Certificate
		key  *ecdsa.PrivateKey
	}
	issue := func(parent *node, serial int64, leaf bool) *node {
		key := newKey()
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: fmt.Sprintf("level %d", serial)},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(time.Hour),
			BasicConstraintsValid: true,
			IsCA:                  !leaf,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		}
		if leaf {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
		parentCert, parentKey := tmpl, key
		if parent != nil {
			parentCert, parentKey = parent.cert, parent.key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return &node{c, key}
	}
	root := issue(nil, 1, false)
	n := root
	var sent [][]byte // leaf first, as a server sends them
	for i := range 4 {
		n = issue(n, int64(i+2), false)
		sent = append([][]byte{n.cert.Raw}, sent...)
	}
	leaf := issue(n, 6, true)
	sent = append([][]byte{leaf.cert.Raw}, sent...)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: sent, PrivateKey: leaf.key}}}
	srv.StartTLS()
	defer srv.Close()
	tr := &curlhttp.Transport{CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.cert.Raw})}
	defer tr.Close()
	for i := range 2 { // parsed, then from the cache
		resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := resp.TLS.PeerCertificates
		if len(got) != len(sent) {
			t.Fatalf("request %d: %d peer certificates, want %d", i, len(got), len(sent))
		}
		for j := range sent {
			if !bytes.Equal(got[j].Raw, sent[j]) {
				t.Errorf("request %d: peer certificate %d (%s) is not the one sent", i, j, got[j].Subject)
			}
		}
	}
}

// MultiplexHTTP2 puts concurrent requests on one connection; without it,
// libcurl 7.88 opens one per request.
func TestTransportMultiplexHTTP2(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		wait := release
		mu.Unlock()
		arrived.Done()
		<-wait // all requests in flight at once
		io.WriteString(w, r.Proto)
	}))
	const n = 10
	for _, multiplex := range []bool{true, false} {
		mu.Lock()
		clear(conns)
		release = make(chan struct{})
		mu.Unlock()
		arrived.Add(n)
		tr := &curlhttp.Transport{CAPEM: ca, MultiplexHTTP2: multiplex}
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "HTTP/2.0" {
					t.Errorf("body %q", b)
				}
			}()
		}
		arrived.Wait()
		mu.Lock()
		close(release)
		mu.Unlock()
		wg.Wait()
		multis := curlhttp.Multis(tr)
		tr.Close()
		mu.Lock()
		got := len(conns)
		mu.Unlock()
		// One connection per Multi the Transport spread the requests over
		// (net/http: one), n where each request has its own.
		want := multis
		if v := curlpoll.Version().Version; !multiplex && (strings.HasPrefix(v, "7.") || strings.HasPrefix(v, "8.0.")) {
			want = n
		}
		if got != want || multis < 1 || multis >= n/2 {
			t.Errorf("MultiplexHTTP2 %v: %d connections for %d concurrent requests on %d Multis, want %d", multiplex, got, n, multis, want)
		}
	}
}

// TestDefaultUserAgentNamesProtocol: without a User-Agent of the request's
// own, net/http sends "Go-http-client/2.0" on HTTP/2 and ".../1.1" on
// HTTP/1.1; over TLS, ALPN decides which after the header list is made, so
// the Transport adds it in its pre-request function. Checked side by side
// with net/http, on a new and on a reused connection.
func TestDefaultUserAgentNamesProtocol(t *testing.T) {
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+strings.Join(r.Header["User-Agent"], "|"))
	}))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	var h1 http.Protocols
	h1.SetHTTP1(true)
	cp := &curlhttp.Transport{CAPEM: ca}
	cpH1 := &curlhttp.Transport{CAPEM: ca, Protocols: &h1}
	defer cp.Close()
	defer cpH1.Close()
	nh := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	nhH1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &h1}
	defer nh.CloseIdleConnections()
	defer nhH1.CloseIdleConnections()
	get := func(rt http.RoundTripper, ua string) string {
		req := mustReq("GET", srv.URL, nil)
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, tc := range []struct {
		name     string
		cp, nh   http.RoundTripper
		ua, want string
	}{
		{"h2", cp, nh, "", "HTTP/2.0 Go-http-client/2.0"},
		{"h1", cpH1, nhH1, "", "HTTP/1.1 Go-http-client/1.1"},
		{"h2 own", cp, nh, "mine/1", "HTTP/2.0 mine/1"},
	} {
		for i := range 2 { // a new connection, then a reused one
			if got := get(tc.nh, tc.ua); got != tc.want {
				t.Fatalf("%s: net/http sent %q, want %q", tc.name, got, tc.want)
			}
			got := get(tc.cp, tc.ua)
			if tc.name == "h2" && !curlpoll.TLSStateSupported() {
				// Documented: the TLS state cannot be read here.
				tc.want = "HTTP/2.0 Go-http-client/1.1"
			}
			if got != tc.want {
				t.Errorf("%s, request %d: curlpoll sent %q, want %q", tc.name, i+1, got, tc.want)
			}
		}
	}

	// One Transport to an HTTP/2 server and an HTTP/1.1-only one in turn:
	// a handle's header list carries the last protocol's User-Agent, which
	// the pre-request function must correct, never add to.
	if !curlpoll.TLSStateSupported() {
		return
	}
	srvH1 := httptest.NewUnstartedServer(srv.Config.Handler)
	srvH1.TLS = &tls.Config{NextProtos: []string{"http/1.1"}} // and httptest's certificate
	srvH1.StartTLS()
	defer srvH1.Close()
	for i := range 9 {
		url, want := srv.URL, "HTTP/2.0 Go-http-client/2.0"
		if i%4 >= 2 {
			url, want = srvH1.URL, "HTTP/1.1 Go-http-client/1.1"
		}
		resp, err := cp.RoundTrip(mustReq("GET", url, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("alternating, request %d: curlpoll sent %q, want %q", i+1, b, want)
		}
	}
	// The last request's line was corrected from 1.1 to 2.0: a request
	// that sets "Go-http-client/1.1" itself, whose lines are then the
	// guess's, must send its own.
	if got := get(cp, "Go-http-client/1.1"); got != "HTTP/2.0 Go-http-client/1.1" {
		t.Errorf("a User-Agent of the request's own after a corrected one: curlpoll sent %q", got)
	}
}

// TestTransportHTTPSProxyCAFile: CAFile is trusted for an HTTPS proxy as
// for the server, as net/http trusts TLSClientConfig.RootCAs for both; it
// was given to libcurl for the server only, and a proxy signed by it was
// refused. A CAFile of another authority still refuses the proxy.
func TestTransportHTTPSProxyCAFile(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		io.WriteString(w, "from proxy")
	}))
	defer proxy.Close()
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := func(name string, der []byte) (string, *x509.CertPool) {
		path := filepath.Join(dir, name)
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			t.Fatal("no certificate in", name)
		}
		return path, pool
	}
	proxyCA, proxyPool := caFile("proxy.pem", proxy.Certificate().Raw)
	other, _, _ := selfSigned(t, "another authority")
	otherCA, otherPool := caFile("other.pem", other.Certificate[0])
	for _, tc := range []struct {
		name   string
		caFile string
		pool   *x509.CertPool
		ok     bool
	}{
		{"the proxy's authority", proxyCA, proxyPool, true},
		{"another authority", otherCA, otherPool, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			std := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: tc.pool}}
			defer std.CloseIdleConnections()
			cp := &curlhttp.Transport{Proxy: http.ProxyURL(pu), CAFile: tc.caFile}
			defer cp.Close()
			getThroughProxy(t, std, cp, &proxied, tc.ok)
		})
	}
}

// TestTransportHTTPSProxyOnlyItsCAs: with CAFile or CAPEM, an HTTPS proxy
// is verified against them alone, as net/http verifies it against RootCAs
// alone. libcurl's built-in CA directory (/etc/ssl/certs on Debian) stayed
// on for proxies, and a proxy whose authority is there was trusted too (an
// independent review). The test puts the proxy's certificate in that
// directory in a private mount namespace (as root, with unshare(1)), where
// it runs again.
func TestTransportHTTPSProxyOnlyItsCAs(t *testing.T) {
	const nsEnv = "CURLPOLL_TEST_CERTS_NS"
	if os.Getenv(nsEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root, for a private mount namespace")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("no unshare(1)")
		}
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("no openssl(1), to hash a CA directory")
		}
		cmd := exec.Command(unshare, "-m", "sh", "-c", `mount --bind "$0" /etc/ssl/certs && exec "$@"`,
			t.TempDir(), os.Args[0], "-test.run=^TestTransportHTTPSProxyOnlyItsCAs$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), nsEnv+"=1")
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil && !bytes.Contains(out, []byte("=== RUN")):
			t.Skipf("no private mount namespace here: %v: %s", err, out)
		case err != nil:
			t.Fatalf("in a private mount namespace: %v\n%s", err, out)
		case !bytes.Contains(out, []byte("--- PASS: TestTransportHTTPSProxyOnlyItsCAs")):
			t.Fatalf("in a private mount namespace, the test did not pass:\n%s", out)
		}
		return
	}
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from proxy")
	}))
	defer proxy.Close()
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy's authority, in this namespace's CA directory (empty else).
	proxyPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	if err := os.WriteFile("/etc/ssl/certs/curlpoll-test-proxy.pem", proxyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("openssl", "rehash", "/etc/ssl/certs").CombinedOutput(); err != nil {
		t.Fatalf("openssl rehash: %v %s", err, out)
	}
	// CAFile and CAPEM: another authority.
	_, otherPEM, _ := selfSigned(t, "another authority")
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(otherFile, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(otherPEM)
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http RootCAs", &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}},
		{"curlpoll CAFile", &curlhttp.Transport{Proxy: http.ProxyURL(pu), CAFile: otherFile}},
		{"curlpoll CAPEM", &curlhttp.Transport{Proxy: http.ProxyURL(pu), CAPEM: otherPEM}},
	} {
		resp, err := rt.rt.RoundTrip(mustReq("GET", "http://example.invalid/", nil))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Errorf("%s: the proxy, signed by an authority outside CAFile, CAPEM and RootCAs, was trusted: %d %q", rt.name, resp.StatusCode, b)
		}
		if c, ok := rt.rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		if c, ok := rt.rt.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// TestTransportHTTPSProxyTLSConfig: net/http applies TLSClientConfig to
// an HTTPS proxy's connection too. Its version floor must hold there (a
// proxy that speaks TLS 1.2 at most is refused with MinVersion TLS 1.3;
// libcurl's CURLOPT_SSLVERSION alone left the proxy's connection at
// libcurl's default: an independent review found the request go through),
// and InsecureSkipVerify reaches a proxy whose certificate nothing signed.
func TestTransportHTTPSProxyTLSConfig(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		io.WriteString(w, "from proxy")
	}))
	proxy.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	proxy.StartTLS()
	defer proxy.Close()
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		std  *http.Transport
		cp   *curlhttp.Transport
		ok   bool
	}{
		// (InsecureSkipVerify in each: a proxy's CA from memory needs
		// CURLOPT_PROXY_CAINFO_BLOB, which libcurl on GnuTLS lacks.)
		{"MinVersion above the proxy's",
			&http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}},
			&curlhttp.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}},
			false},
		{"MaxVersion within the proxy's",
			&http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}},
			&curlhttp.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}},
			true},
		{"InsecureSkipVerify",
			&http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			&curlhttp.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.std.CloseIdleConnections()
			defer tc.cp.Close()
			getThroughProxy(t, tc.std, tc.cp, &proxied, tc.ok)
		})
	}
}

// getThroughProxy makes a request through an HTTPS proxy that answers
// "from proxy" itself (counting in proxied), with net/http's Transport std
// and with cp: it succeeds with both if ok, and fails, the proxy serving
// nothing, with both otherwise.
func getThroughProxy(t *testing.T, std *http.Transport, cp *curlhttp.Transport, proxied *atomic.Int32, ok bool) {
	t.Helper()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", cp}} {
		proxied.Store(0)
		resp, err := rt.rt.RoundTrip(mustReq("GET", "http://example.invalid/", nil))
		if err != nil {
			if ok {
				t.Errorf("%s: %v", rt.name, err)
			}
			if proxied.Load() != 0 {
				t.Errorf("%s: failed, yet the proxy served the request", rt.name)
			}
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !ok || string(b) != "from proxy" {
			t.Errorf("%s: %d %q through the proxy, want %s", rt.name, resp.StatusCode, b, map[bool]string{true: `"from proxy"`, false: "an error"}[ok])
		}
	}
}

// TestTransportSchemeMismatch: an https URL whose server speaks plain HTTP
// fails in http.Client with http.ErrSchemeMismatch ("server gave HTTP
// response to HTTPS client"), as with net/http, whose Transport returns
// crypto/tls's tls.RecordHeaderError for http.Client to recognise (curl's
// SSL connect error alone was returned: vault's client tells a wrong
// VAULT_ADDR scheme so). With InsecureSkipVerify too; through a proxy
// nothing is asked of Go.
func TestTransportSchemeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain")
	}))
	defer srv.Close()
	url := "https://" + strings.TrimPrefix(srv.URL, "http://") + "/"
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{}},
		{"curlpoll", &curlhttp.Transport{}},
		{"net/http, InsecureSkipVerify", &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
		{"curlpoll, InsecureSkipVerify", &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	} {
		client := &http.Client{Transport: tc.rt}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, http.ErrSchemeMismatch) {
			t.Errorf("%s: %v, want http.ErrSchemeMismatch", tc.name, err)
		}
		client.CloseIdleConnections()
		if c, ok := tc.rt.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// TestTransportHandshakeFailureOneConnection: a handshake that fails for
// another reason than a reply in plain HTTP (here no TLS version in
// common) costs the server one connection, as with net/http: Go's probe
// for http.ErrSchemeMismatch runs only where libcurl says the reply was no
// TLS (a second review: it ran for every SSL connect error).
func TestTransportHandshakeFailureOneConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}}},
		{"curlpoll", &curlhttp.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}}},
	} {
		conns.Store(0)
		resp, err := rt.rt.RoundTrip(mustReq("GET", srv.URL, nil))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: no error with no TLS version in common", rt.name)
		}
		if errors.Is(err, http.ErrSchemeMismatch) {
			t.Errorf("%s: %v", rt.name, err)
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("%s: the server saw %d connections, want 1", rt.name, n)
		}
		if c, ok := rt.rt.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}
