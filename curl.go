package curlpoll

/*
#cgo pkg-config: libcurl
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"
)

var (
	globalOnce sync.Once
	globalErr  error
)

// globalInit runs curl_global_init once per process. curlpoll never calls
// curl_global_cleanup: other cgo users in the process may share libcurl and
// its TLS library.
//
// libcurl built with OpenSSL opens $SSLKEYLOGFILE in curl_global_init and
// writes every TLS secret there. net/http honours no such variable (a
// tls.Config's KeyLogWriter is asked for explicitly), so it is hidden from
// libcurl while it initializes.
func globalInit() error {
	globalOnce.Do(func() {
		if v, ok := os.LookupEnv("SSLKEYLOGFILE"); ok {
			os.Unsetenv("SSLKEYLOGFILE")
			defer os.Setenv("SSLKEYLOGFILE", v)
		}
		if rc := C.curl_global_init(C.CURL_GLOBAL_DEFAULT); rc != C.CURLE_OK {
			globalErr = fmt.Errorf("curlpoll: curl_global_init: %w", Code(rc))
		}
	})
	return globalErr
}

// libcurlVersion returns the version number of the libcurl in use, as
// 0xXXYYZZ (major, minor, patch). It is read once: the Transport asks for it
// on every request, and each curl_version_info is a cgo call.
var libcurlVersion = sync.OnceValue(func() uint32 {
	return uint32(C.curl_version_info(C.CURLVERSION_NOW).version_num)
})

// ClientCertBlobsSupported reports whether libcurl's TLS library takes a
// client certificate and key from memory (SetClientCertBlob, and
// CURLOPT_SSLCERT_BLOB in the escape hatches): where it does not, they are
// refused with ErrClientCertBlobUnsupported rather than dropped.
func ClientCertBlobsSupported() bool { return libcurlTakesCertBlobs() }

// libcurlTakesCertBlobs reports whether libcurl's TLS library takes a
// client certificate and key from memory (CURLOPT_SSLCERT_BLOB,
// CURLOPT_SSLKEY_BLOB). libcurl sets them without error on every build,
// but its GnuTLS code never reads them (lib/vtls/gtls.c, 8.14.1): there a
// client certificate would be dropped without a word. The TLS libraries
// listed are those whose libcurl code reads them.
var libcurlTakesCertBlobs = sync.OnceValue(func() bool {
	tls := Version().TLS
	for _, p := range []string{"OpenSSL/", "BoringSSL", "LibreSSL/", "quictls/", "AWS-LC/", "wolfSSL/", "mbedTLS/", "Schannel", "SecureTransport"} {
		if strings.HasPrefix(tls, p) {
			return true
		}
	}
	return false
})

// libcurlHasHTTP3 reports whether libcurl was built with HTTP/3; read once.
var libcurlHasHTTP3 = sync.OnceValue(func() bool {
	return C.curl_version_info(C.CURLVERSION_NOW).features&C.CURL_VERSION_HTTP3 != 0
})

// Version reports the libcurl in use, its TLS library and the features that
// decide what curlpoll can do with it.
type VersionInfo struct {
	Version   string   // libcurl's version, such as "7.88.1"
	Number    int      // the version as 0xXXYYZZ (LIBCURL_VERSION_NUM), such as 0x075801
	TLS       string   // the TLS library and its version, such as "OpenSSL/3.0.19"
	HTTP2     bool     // built with HTTP/2 support
	HTTP3     bool     // built with HTTP/3 support
	Protocols []string // URL schemes libcurl was built for
}

// Version describes the libcurl that curlpoll runs on.
func Version() VersionInfo {
	d := C.curl_version_info(C.CURLVERSION_NOW)
	v := VersionInfo{
		Version: C.GoString(d.version),
		Number:  int(d.version_num),
		HTTP2:   d.features&C.CURL_VERSION_HTTP2 != 0,
		HTTP3:   d.features&C.CURL_VERSION_HTTP3 != 0,
	}
	if d.ssl_version != nil {
		v.TLS = C.GoString(d.ssl_version)
	}
	for p := d.protocols; *p != nil; p = nextCString(p) {
		v.Protocols = append(v.Protocols, C.GoString(*p))
	}
	return v
}

// hnd passes a libcurl handle to C as an integer (C.curlpoll_hnd, shim.h):
// cgo checks no integer as a possible Go pointer.
func hnd(p unsafe.Pointer) C.curlpoll_hnd { return C.curlpoll_hnd(uintptr(p)) }
