// The state of a TLS connection as captureTLS reads it, from OpenSSL
// (transport_tls.go) or GnuTLS (transport_tlsstate.go).
#ifndef CURLPOLL_TLS_STATE_H
#define CURLPOLL_TLS_STATE_H

#include <stddef.h>

// curlpoll_tls is the state of a TLS connection, as captureTLS reads it.
struct curlpoll_tls {
	int version;
	int cipher;
	unsigned alpn_len;
	unsigned char alpn[255];
	int ncerts;  // certificates encoded in the caller's buffer
	size_t need; // the buffer size the whole chain needs
	int want;    // the number of certificates the chain has
	char suite[64]; // the cipher suite's IANA name, where cipher is 0 (GnuTLS)
	// OpenSSL: the number of the peer's chain, never reused in the process
	// (curlpoll_tls_capture); 0 where not known (GnuTLS).
	unsigned long long chain;
	// The handshake's client random, which no other handshake shares
	// (TLSState.Handshake); has_random is 0 where it could not be read.
	int has_random;
	unsigned char random[32];
};

#endif
