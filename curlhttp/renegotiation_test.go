package curlhttp_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportTLSRenegotiatedCertificate: a TLS 1.2 server that
// renegotiates onto another certificate in the middle of a connection's
// first response (internal/testutil/renegserver), to a Transport that
// allows it (RenegotiateFreelyAsClient; refused by default, as net/http's
// client refuses it: TestTransportTLSRenegotiationRefused). The second request on that
// connection meets certificate B: Response.TLS must show B. The Transport
// keeps each connection's peer chain for the requests after the first
// (tlsChains): it must never serve A's chain for B. Keyed by the
// certificate object's address, it did, when B's object took A's freed
// address (6 times in 30 in the review that found it); hence several
// rounds, each on a new connection. With a field that Go verifies
// (RootCAs), allowing renegotiation is refused before anything is sent: Go
// verifies the peer before a request goes out, and would not see a
// certificate that a renegotiation brings in the middle of a response
// (a review found the end of response 1 delivered from B, unverified).
func TestTransportTLSRenegotiatedCertificate(t *testing.T) {
	if v := curlpoll.Version().TLS; !strings.HasPrefix(v, "OpenSSL/") {
		// GnuTLS does not take part in a renegotiation the server starts
		// (the connection fails), and TLSState keeps no chains there.
		t.Skipf("libcurl's TLS is %s: the server's renegotiation is OpenSSL's case", v)
	}
	url, pool := startRenegServer(t)
	// get returns the peer certificate's name and the body.
	get := func(tr *curlhttp.Transport, path string) (cn, body string, err error) {
		resp, err := tr.RoundTrip(mustReq("GET", url+path, nil))
		if err != nil {
			return "", "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
			return "(no peer certificate)", string(b), nil
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName, string(b), nil
	}
	renegotiated := 0
	for round := range 8 {
		// Without verification: what the second request's connection is,
		// as the server says (libcurl on GnuTLS does not renegotiate), and
		// Response.TLS must say the same.
		plain := &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, SessionTicketsDisabled: true, Renegotiation: tls.RenegotiateFreelyAsClient}}
		get(plain, "/1")
		cn, body, err := get(plain, "/2")
		plain.Close()
		if err != nil || (body != "A" && body != "B") {
			t.Fatalf("round %d, request 2: %q, %v", round, body, err)
		}
		if cn != "server"+body {
			t.Errorf("round %d, request 2 on a connection that is %s's: Response.TLS shows %q", round, body, cn)
		}
		if body == "B" {
			renegotiated++
		}

	}
	t.Logf("%d of 8 connections renegotiated", renegotiated)
	if !goVerifies() {
		return
	}
	verify := &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Renegotiation: tls.RenegotiateFreelyAsClient}}
	defer verify.Close()
	if _, _, err := get(verify, "/1"); !errors.Is(err, curlhttp.ErrUnsupportedTLSConfig) {
		t.Errorf("RootCAs with RenegotiateFreelyAsClient: %v, want ErrUnsupportedTLSConfig", err)
	}
}

// TestTransportTLSRenegotiationRefused: by default the Transport refuses
// the renegotiation as net/http's client does, so no response ever comes
// from certificate B: the first request on each connection fails (the
// server ends the connection when its request is declined), and a request
// after it, on a new connection, is answered under A. RenegotiateOnceAsClient
// is refused before anything is sent (OpenSSL cannot stop after one).
func TestTransportTLSRenegotiationRefused(t *testing.T) {
	if v := curlpoll.Version().TLS; !strings.HasPrefix(v, "OpenSSL/") {
		t.Skipf("libcurl's TLS is %s: the server's renegotiation is OpenSSL's case", v)
	}
	url, pool := startRenegServer(t)
	conf := &tls.Config{RootCAs: pool, SessionTicketsDisabled: true}
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{TLSClientConfig: conf}},
		{"curlpoll", &curlhttp.Transport{TLSClientConfig: conf}},
		{"curlpoll, no verification", &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	} {
		for i := range 3 {
			resp, err := rt.rt.RoundTrip(mustReq("GET", url+"/1", nil))
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Errorf("%s, connection %d: the renegotiating response came whole: %q", rt.name, i, body)
			}
			if rt.name != "net/http" && resp != nil && resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
				if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "serverA" {
					t.Errorf("%s, connection %d: peer %q", rt.name, i, cn)
				}
			}
		}
		if c, ok := rt.rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		if c, ok := rt.rt.(io.Closer); ok {
			c.Close()
		}
	}
	tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Renegotiation: tls.RenegotiateOnceAsClient}}
	defer tr.Close()
	if _, err := tr.RoundTrip(mustReq("GET", url+"/1", nil)); !errors.Is(err, curlhttp.ErrUnsupportedTLSConfig) {
		t.Errorf("RenegotiateOnceAsClient: %v", err)
	}
}

// startRenegServer builds and starts renegserver with two self-signed
// certificates, A ("serverA") and B ("serverB"), and returns its URL and a
// pool holding A only.
func startRenegServer(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the renegotiating server")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "renegserver")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/curlpoll/curlpoll/internal/testutil/renegserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building renegserver: %v\n%s", err, out)
	}
	pool := x509.NewCertPool()
	var args []string
	for _, cn := range []string{"serverA", "serverB"} {
		_, certPEM, keyPEM := selfSigned(t, cn)
		if cn == "serverA" {
			pool.AppendCertsFromPEM(certPEM)
		}
		cf, kf := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
		if err := os.WriteFile(cf, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kf, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, cf, kf)
	}
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	portc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		portc <- strings.TrimSpace(line)
	}()
	select {
	case port := <-portc:
		if port == "" {
			t.Fatal("renegserver did not start")
		}
		return "https://" + net.JoinHostPort("127.0.0.1", port), pool
	case <-time.After(30 * time.Second):
		t.Fatal("renegserver did not start within 30 s")
	}
	return "", nil
}

// selfSigned makes a self-signed ECDSA certificate for 127.0.0.1 named cn,
// for a Go server and in PEM.
func selfSigned(t *testing.T, cn string) (cert tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
