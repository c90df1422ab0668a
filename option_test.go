package curlpoll_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// TestOptionTable walks libcurl's option table: every option's kind comes
// from it, each escape hatch takes exactly the options of its kind, and
// callbacks, pointers and the options curlpoll owns are refused by all of
// them, with an error that names the option, before libcurl sees it.
func TestOptionTable(t *testing.T) {
	e := newEasy(t, "")
	owned := map[string]bool{"NOSIGNAL": true, "NOPROGRESS": true, "VERBOSE": true, "HEADER": true, "CONNECT_ONLY": true}
	setters := map[curlpoll.OptionKind]func(curlpoll.Option) error{
		curlpoll.OptionLong:   func(o curlpoll.Option) error { return e.SetOptionLong(o, 0) },
		curlpoll.OptionOffset: func(o curlpoll.Option) error { return e.SetOptionOffset(o, 0) },
		curlpoll.OptionString: func(o curlpoll.Option) error { return e.SetOptionString(o, "") },
		curlpoll.OptionBlob:   func(o curlpoll.Option) error { return e.SetOptionBlob(o, nil) },
		curlpoll.OptionList:   func(o curlpoll.Option) error { return e.SetOptionList(o, nil) },
	}
	// An OptionBatch refuses what the escape hatches refuse, before C.
	var b curlpoll.OptionBatch
	batchSetters := map[curlpoll.OptionKind]func(curlpoll.Option){
		curlpoll.OptionLong:   func(o curlpoll.Option) { b.Long(o, 0) },
		curlpoll.OptionOffset: func(o curlpoll.Option) { b.Offset(o, 0) },
		curlpoll.OptionString: func(o curlpoll.Option) { b.Str(o, "") },
		curlpoll.OptionBlob:   func(o curlpoll.Option) { b.Blob(o, nil) },
		curlpoll.OptionList:   func(o curlpoll.Option) { b.List(o) },
	}
	counts := map[curlpoll.OptionKind]int{}
	for o := range curlpoll.Options() {
		kind, ok := o.Kind()
		if !ok {
			t.Fatalf("%v is in the table but has no kind", o)
		}
		counts[kind]++
		if o2, err := curlpoll.OptionByName(o.Name()); err != nil || o2 != o {
			t.Errorf("OptionByName(%q) = %v, %v; want %v", o.Name(), o2, err, o)
		}
		want := kind
		if kind == curlpoll.OptionValues {
			want = curlpoll.OptionLong
		}
		for sk, set := range setters {
			err := set(o)
			settable := sk == want && !owned[o.Name()]
			switch {
			case !settable && err == nil:
				t.Errorf("the %v setter took %v, a %v", sk, o, kind)
			case !settable && !strings.Contains(err.Error(), o.String()):
				t.Errorf("the %v setter's error for %v does not name it: %v", sk, o, err)
			case settable && err != nil && strings.Contains(err.Error(), "curlpoll's to set"):
				t.Errorf("the %v setter refused %v, a %v: %v", sk, o, kind, err)
			}
			b.Reset()
			batchSetters[sk](o)
			if berr := b.Err(); (berr == nil) != settable {
				t.Errorf("the %v batch setter on %v, a %v: error %v, want one: %v", sk, o, kind, berr, !settable)
			}
		}
	}
	t.Logf("%d options by kind: %v", func() (n int) {
		for _, c := range counts {
			n += c
		}
		return
	}(), counts)
	if counts[curlpoll.OptionLong]+counts[curlpoll.OptionValues] < 100 || counts[curlpoll.OptionString] < 50 {
		t.Errorf("the table is too small: %v", counts)
	}
	// An option libcurl does not know: libcurl's own error, naming it.
	if err := e.SetOptionLong(99999, 1); !errors.Is(err, curlpoll.ErrUnknownOption) || !strings.Contains(err.Error(), "option 99999") {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := curlpoll.OptionByName("NO_SUCH_OPTION"); err == nil {
		t.Error("OptionByName found NO_SUCH_OPTION")
	}
}

// TestOptionEscapeHatch sets options Easy has no setter for and checks
// what the server sees.
func TestOptionEscapeHatch(t *testing.T) {
	// The handler hands the headers over on a channel, which also waits
	// for the handler to have run.
	seen := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	defer srv.Close()
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	opt := func(name string) curlpoll.Option {
		o, err := curlpoll.OptionByName(name)
		must(t, err)
		return o
	}
	must(t, e.SetOptionString(opt("CURLOPT_REFERER"), "https://example.com/from"))
	must(t, e.SetOptionList(opt("HTTPHEADER"), []string{"X-One: 1", "X-Two: 2"}))
	must(t, e.SetOptionLong(opt("TRANSFER_ENCODING"), 1)) // asks for TE: gzip
	must(t, m.Do(context.Background(), e))
	got := <-seen
	if got.Get("Referer") != "https://example.com/from" || got.Get("X-One") != "1" || got.Get("X-Two") != "2" ||
		!strings.Contains(got.Get("Te"), "gzip") {
		t.Errorf("the server saw %v", got)
	}
	// The list lives as long as the option: a second transfer sends it too.
	must(t, m.Do(context.Background(), e))
	if got = <-seen; got.Get("X-Two") != "2" {
		t.Errorf("second transfer: the server saw %v", got)
	}
	// Unset, the headers are gone.
	must(t, e.SetOptionList(opt("HTTPHEADER"), nil))
	must(t, m.Do(context.Background(), e))
	if got = <-seen; got.Get("X-One") != "" {
		t.Errorf("after unsetting: the server saw %v", got)
	}
	// A callback is refused by name.
	if err := e.SetOptionLong(opt("WRITEFUNCTION"), 0); err == nil || !strings.Contains(err.Error(), "CURLOPT_WRITEFUNCTION") {
		t.Errorf("WRITEFUNCTION: %v", err)
	}
}

// TestOptionBatchAllOrNothing: a batch with a refused setting sets nothing
// (the URL set before it stays as it was); a good batch sets everything.
func TestOptionBatchAllOrNothing(t *testing.T) {
	srv := testServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/hello")
	urlOpt, err := curlpoll.OptionByName("URL")
	must(t, err)
	nosignal, err := curlpoll.OptionByName("NOSIGNAL")
	must(t, err)
	var b curlpoll.OptionBatch
	b.Str(urlOpt, srv.URL+"/bytes?n=3")
	b.Long(nosignal, 0) // curlpoll's own: refused
	if err := e.Apply(&b); err == nil || !strings.Contains(err.Error(), "CURLOPT_NOSIGNAL") {
		t.Fatalf("Apply = %v, want the refusal of CURLOPT_NOSIGNAL", err)
	}
	var body strings.Builder
	must(t, e.SetWriter(&body))
	must(t, m.Do(context.Background(), e))
	if body.String() != "hello" {
		t.Errorf("after a refused batch the transfer got %q, want the URL set before (hello)", body.String())
	}
	b.Reset()
	b.StrParts(urlOpt, srv.URL, "/bytes?n=", "3")
	must(t, e.Apply(&b))
	body.Reset()
	must(t, m.Do(context.Background(), e))
	if body.String() != "abc" {
		t.Errorf("after a good batch the transfer got %q, want abc", body.String())
	}
}

// TestSetTLSRenegotiation: refusing is honoured on OpenSSL (set) and on
// GnuTLS (which never takes part); allowing is refused on GnuTLS, which
// cannot. The refusal itself is tested against a renegotiating server in
// curlhttp (TestTransportTLSRenegotiationRefused).
func TestSetTLSRenegotiation(t *testing.T) {
	e := newEasy(t, "https://127.0.0.1/")
	tlsLib := curlpoll.Version().TLS
	errFalse, errTrue := e.SetTLSRenegotiation(false), e.SetTLSRenegotiation(true)
	switch {
	case strings.HasPrefix(tlsLib, "OpenSSL/") && curlpoll.TLSStateSupported():
		if errFalse != nil || errTrue != nil {
			t.Errorf("on %s: %v, %v", tlsLib, errFalse, errTrue)
		}
	case strings.HasPrefix(tlsLib, "GnuTLS/"):
		if errFalse != nil || !errors.Is(errTrue, curlpoll.ErrTLSRenegotiationUnsupported) {
			t.Errorf("on %s: %v, %v", tlsLib, errFalse, errTrue)
		}
	default:
		t.Skipf("libcurl's TLS is %q", tlsLib)
	}
	must(t, e.Reset())
}

// TestSetClientCertFunc: a server that asks for a client certificate gets
// the one the function gives, with the chain (an intermediate) and key;
// the function sees the authorities the server accepts and its signature
// schemes, is not called by a server that asks for none, fails the
// transfer with its error, and sends none when it returns an empty one.
func TestSetClientCertFunc(t *testing.T) {
	if !curlpoll.TLSStateSupported() || !strings.HasPrefix(curlpoll.Version().TLS, "OpenSSL/") {
		e, _ := curlpoll.NewEasy()
		defer e.Close()
		err := e.SetClientCertFunc(func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil })
		if !errors.Is(err, curlpoll.ErrClientCertFuncUnsupported) {
			t.Fatalf("on %s: %v, want ErrClientCertFuncUnsupported", curlpoll.Version().TLS, err)
		}
		t.Skip("libcurl not on the OpenSSL curlpoll links")
	}
	root, rootKey := testCA(t, "client root", nil, nil)
	inter, interKey := testCA(t, "client intermediate", root, rootKey)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "the client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, inter, &leafKey.PublicKey, interKey)
	must(t, err)
	clientCert := &tls.Certificate{Certificate: [][]byte{leafDER, inter.Raw}, PrivateKey: leafKey}
	pool := x509.NewCertPool()
	pool.AddCert(root)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		io.WriteString(w, name)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	asking := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "not asked") }))
	defer asking.Close()

	m := newMulti(t)
	get := func(url string, f func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error)) (string, error) {
		e := newEasy(t, url)
		must(t, e.SetVerifyPeer(false))
		// A new connection and session each time: a reused connection, or a
		// resumed session, asks for no certificate.
		must(t, e.SetSessionIDCache(false))
		must(t, e.SetFreshConnect(true))
		must(t, e.SetClientCertFunc(f))
		var out strings.Builder
		must(t, e.SetWriter(&out))
		err := m.Do(context.Background(), e)
		return out.String(), err
	}
	var seen *tls.CertificateRequestInfo
	calls := 0
	got, err := get(srv.URL, func(_ *curlpoll.Transfer, info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		calls++
		seen = info
		return clientCert, nil
	})
	if err != nil || got != "the client" || calls != 1 {
		t.Fatalf("the server saw %q, %v, after %d calls; want the client's certificate after 1", got, err, calls)
	}
	if len(seen.AcceptableCAs) != 1 || !bytes.Equal(seen.AcceptableCAs[0], root.RawSubject) || len(seen.SignatureSchemes) == 0 || seen.Version < tls.VersionTLS12 {
		t.Errorf("the request's info: %d authorities (want the root's subject), schemes %v, version %x", len(seen.AcceptableCAs), seen.SignatureSchemes, seen.Version)
	}
	if err := seen.SupportsCertificate(clientCert); err != nil {
		t.Errorf("SupportsCertificate: %v", err)
	}

	calls = 0
	if got, err := get(asking.URL, func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		calls++
		return clientCert, nil
	}); err != nil || got != "not asked" || calls != 0 {
		t.Errorf("a server that asks for none: %q, %v, %d calls", got, err, calls)
	}

	boom := errors.New("no certificate for you")
	if _, err := get(srv.URL, func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("the function's error: %v", err)
	}
	if got, err := get(srv.URL, func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &tls.Certificate{}, nil
	}); err != nil || got != "none" {
		t.Errorf("an empty certificate: %q, %v; want none sent", got, err)
	}
	signer := &tls.Certificate{Certificate: clientCert.Certificate, PrivateKey: opaqueSigner{leafKey}}
	if _, err := get(srv.URL, func(*curlpoll.Transfer, *tls.CertificateRequestInfo) (*tls.Certificate, error) { return signer, nil }); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a key OpenSSL cannot be given: %v, want an error saying so", err)
	}
}

// opaqueSigner is a crypto.Signer whose key cannot be exported.
type opaqueSigner struct{ k *ecdsa.PrivateKey }

func (s opaqueSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s opaqueSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

// testCA makes a CA certificate, self-signed or signed by parent.
func testCA(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	must(t, err)
	c, err := x509.ParseCertificate(der)
	must(t, err)
	return c, key
}
