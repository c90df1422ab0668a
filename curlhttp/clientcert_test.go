package curlhttp_test

// GetClientCertificate on the OpenSSL curlpoll links, side by side with
// net/http (from an independent review of its first version, which cut
// AcceptableCAs at 64 and let a resumed session skip the function).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
)

var clientCertSerial atomic.Int64

func clientCertCA(t *testing.T, cn string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(clientCertSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func clientCertLeaf(t *testing.T, cn string, ca *x509.Certificate, caKey crypto.Signer, key crypto.Signer) *tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(clientCertSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func clientCertServer(t *testing.T, conf *tls.Config) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s", name)
	}))
	srv.TLS = conf
	srv.StartTLS()
	return srv
}

func closeTransport(rt http.RoundTripper) {
	switch rt := rt.(type) {
	case *http.Transport:
		rt.CloseIdleConnections()
	case *curlhttp.Transport:
		rt.Close()
	}
}

func needClientCertFunc(t *testing.T) {
	if !curlpoll.ClientCertFuncSupported() {
		t.Skip("no client cert function here")
	}
}

// TestTransportGetClientCertificateKeyTypes (from a review): what
// GetClientCertificate is asked, and whether
// the certificate it gives reaches the server, side by side with net/http,
// for TLS 1.2 and 1.3 and RSA, ECDSA and Ed25519 keys.
func TestTransportGetClientCertificateKeyTypes(t *testing.T) {
	needClientCertFunc(t)
	ca, caKey := clientCertCA(t, "client CA")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	certs := map[string]*tls.Certificate{
		"rsa":      clientCertLeaf(t, "rsa", ca, caKey, rsaKey),
		"ecdsa":    clientCertLeaf(t, "ecdsa", ca, caKey, ecKey),
		"ecdsa384": clientCertLeaf(t, "ecdsa384", ca, caKey, ec384),
		"ed25519":  clientCertLeaf(t, "ed25519", ca, caKey, edKey),
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		srv := clientCertServer(t, &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool, MaxVersion: v})
		for name, cert := range certs {
			var infos [2]*tls.CertificateRequestInfo
			var got [2]string
			for i, std := range []bool{true, false} {
				conf := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
					infos[i] = info
					return cert, nil
				}}
				var rt http.RoundTripper = &http.Transport{TLSClientConfig: conf}
				if !std {
					rt = &curlhttp.Transport{TLSClientConfig: conf}
				}
				s, err := getBody(rt, srv.URL)
				if err != nil {
					s = "error: " + err.Error()
				}
				got[i] = s
				closeTransport(rt)
			}
			if got[0] != got[1] {
				t.Errorf("TLS %x, %s key: net/http's server saw %q, curlpoll's %q", v, name, got[0], got[1])
			}
			if infos[0] == nil || infos[1] == nil {
				t.Errorf("TLS %x, %s: asked net/http %v, curlpoll %v", v, name, infos[0] != nil, infos[1] != nil)
				continue
			}
			a, b := *infos[0], *infos[1]
			if a.Version != b.Version {
				t.Errorf("TLS %x, %s: Version %x vs %x", v, name, a.Version, b.Version)
			}
			if !reflect.DeepEqual(a.AcceptableCAs, b.AcceptableCAs) {
				t.Errorf("TLS %x, %s: AcceptableCAs differ (%d vs %d)", v, name, len(a.AcceptableCAs), len(b.AcceptableCAs))
			}
			if !reflect.DeepEqual(a.SignatureSchemes, b.SignatureSchemes) {
				t.Errorf("TLS %x, %s: SignatureSchemes\n net/http %v\n curlpoll %v", v, name, a.SignatureSchemes, b.SignatureSchemes)
			}
			if e1, e2 := infos[0].SupportsCertificate(cert), infos[1].SupportsCertificate(cert); (e1 == nil) != (e2 == nil) {
				t.Errorf("TLS %x, %s: SupportsCertificate %v vs %v", v, name, e1, e2)
			}
		}
		srv.Close()
	}
}

// TestTransportGetClientCertificateManyCAs: a server that accepts many authorities (its ClientCAs
// pool) lists them all; a GetClientCertificate that picks the certificate
// whose issuer the server accepts finds it with net/http.
func TestTransportGetClientCertificateManyCAs(t *testing.T) {
	needClientCertFunc(t)
	pool := x509.NewCertPool()
	for i := 0; i < 100; i++ {
		c, _ := clientCertCA(t, fmt.Sprintf("unrelated CA %d", i))
		pool.AddCert(c)
	}
	ca, caKey := clientCertCA(t, "the client's CA")
	pool.AddCert(ca)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := clientCertLeaf(t, "the client", ca, caKey, key)
	srv := clientCertServer(t, &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool})
	defer srv.Close()
	for _, std := range []bool{true, false} {
		var n int
		conf := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			n = len(info.AcceptableCAs)
			if info.SupportsCertificate(cert) == nil {
				return cert, nil
			}
			return &tls.Certificate{}, nil
		}}
		var rt http.RoundTripper = &http.Transport{TLSClientConfig: conf}
		name := "net/http"
		if !std {
			rt, name = &curlhttp.Transport{TLSClientConfig: conf}, "curlpoll"
		}
		got, err := getBody(rt, srv.URL)
		closeTransport(rt)
		if err != nil || got != "the client" || n != 101 {
			t.Errorf("%s: the server saw %q, %v; the function saw %d authorities, want 101", name, got, err, n)
		}
	}
}

// TestTransportGetClientCertificateNoResumption: net/http with its default TLS config (no
// ClientSessionCache) asks GetClientCertificate on every new connection;
// the server sees the certificate it gives each time.
func TestTransportGetClientCertificateNoResumption(t *testing.T) {
	needClientCertFunc(t)
	ca, caKey := clientCertCA(t, "client CA")
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c1, c2 := clientCertLeaf(t, "first", ca, caKey, k1), clientCertLeaf(t, "second", ca, caKey, k2)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		// The server closes each connection: the next request makes another.
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name := "none"
			if len(r.TLS.PeerCertificates) > 0 {
				name = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			w.Header().Set("Connection", "close")
			fmt.Fprintf(w, "%s", name)
		}))
		srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool, MaxVersion: v}
		srv.StartTLS()
		for _, std := range []bool{true, false} {
			calls := 0
			conf := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				calls++
				if calls == 1 {
					return c1, nil
				}
				return c2, nil // the certificate was rotated
			}}
			var rt http.RoundTripper = &http.Transport{TLSClientConfig: conf}
			name := "net/http"
			if !std {
				rt, name = &curlhttp.Transport{TLSClientConfig: conf}, "curlpoll"
			}
			var seen []string
			for i := 0; i < 2; i++ {
				got, err := getBody(rt, srv.URL)
				if err != nil {
					got = err.Error()
				}
				seen = append(seen, got)
			}
			closeTransport(rt)
			if seen[0] != "first" || seen[1] != "second" || calls != 2 {
				t.Errorf("TLS %x, %s: the server saw %q, the function asked %d times; want [first second], twice", v, name, seen, calls)
			}
		}
		srv.Close()
	}
}

// TestTransportGetClientCertificatePanic: a panic in GetClientCertificate. net/http does not
// recover it (the process dies), so the Transport's own promise applies: the
// request fails, the process lives, and the Transport still works.
func TestTransportGetClientCertificatePanic(t *testing.T) {
	needClientCertFunc(t)
	srv := clientCertServer(t, &tls.Config{ClientAuth: tls.RequestClientCert})
	defer srv.Close()
	n := 0
	conf := &tls.Config{InsecureSkipVerify: true, SessionTicketsDisabled: true, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		n++
		if n == 1 {
			panic("boom")
		}
		return &tls.Certificate{}, nil
	}}
	tr := &curlhttp.Transport{TLSClientConfig: conf}
	defer tr.Close()
	if _, err := getBody(tr, srv.URL); err == nil {
		t.Fatal("a panic: no error")
	} else {
		t.Logf("panic -> %v", err)
	}
	if got, err := getBody(tr, srv.URL); err != nil || got != "none" {
		t.Errorf("after the panic: %q, %v", got, err)
	}
}
