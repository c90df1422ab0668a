package faultserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"time"
)

// certSet is a test CA and the leaves the TLS listeners present.
type certSet struct {
	caPEM     []byte
	good      tls.Certificate // for 127.0.0.1, ::1 and localhost
	expired   tls.Certificate // the same names, expired an hour ago
	wrongHost tls.Certificate // valid, for wrong.example only
}

var (
	certsOnce sync.Once
	certs     *certSet
	certsErr  error
)

// loadCerts makes the certificates once per process: every Server shares them.
func loadCerts() (*certSet, error) {
	certsOnce.Do(func() { certs, certsErr = makeCerts() })
	return certs, certsErr
}

func makeCerts() (*certSet, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "faultserver test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(serial int64, notBefore, notAfter time.Time, dns []string, ips []net.IP) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "faultserver"},
			NotBefore:    notBefore,
			NotAfter:     notAfter,
			DNSNames:     dns,
			IPAddresses:  ips,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
	}
	local := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	cs := &certSet{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	if cs.good, err = leaf(2, now.Add(-time.Hour), now.Add(24*time.Hour), []string{"localhost"}, local); err != nil {
		return nil, err
	}
	if cs.expired, err = leaf(3, now.Add(-48*time.Hour), now.Add(-time.Hour), []string{"localhost"}, local); err != nil {
		return nil, err
	}
	if cs.wrongHost, err = leaf(4, now.Add(-time.Hour), now.Add(24*time.Hour), []string{"wrong.example"}, nil); err != nil {
		return nil, err
	}
	return cs, nil
}
