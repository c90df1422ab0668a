//go:build curlpoll_noopenssl

package curlpoll

// #include "shim.h"
// #include "tls_state.h"
import "C"

import "unsafe"

// Without libssl (see tlsstate_openssl.go) libcurl's OpenSSL connections
// cannot be read.

func opensslMatches() bool { return false }

func opensslCapture(*Easy, *C.struct_curlpoll_tls, *C.uchar, C.size_t, *C.int, C.int, bool) C.int {
	return 0
}

func opensslRefuseRenegotiation(*Easy, bool) C.CURLcode { return C.CURLE_NOT_BUILT_IN }

func opensslAskClientCert(*Easy, bool) C.CURLcode { return C.CURLE_NOT_BUILT_IN }

func opensslClientCert(*xfer, clientCertFunc, unsafe.Pointer) bool { return false }
