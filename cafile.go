package curlpoll

// #include "shim.h"
import "C"

import (
	"crypto/sha256"
	"os"
	"sync"
	"unsafe"
)

// CA bundles in memory for TLS libraries that cannot take them so.
//
// libcurl takes a CA bundle from memory (CURLOPT_CAINFO_BLOB,
// CURLOPT_PROXY_CAINFO_BLOB) only with some TLS libraries: OpenSSL, yes;
// GnuTLS, no (CURLE_NOT_BUILT_IN), and Debian's libcurl3-gnutls is the
// build that has HTTP/3. There, SetCAInfoBlob and the Transport's CAPEM
// write the bundle to a private file and name that (CURLOPT_CAINFO,
// CURLOPT_PROXY_CAINFO) instead: one file per distinct bundle, in a
// directory only this process's user can read, removed when nothing uses
// it any more. The bundle holds certificates only, no secrets.

// caBlobBuiltIn reports whether libcurl takes CA bundles from memory: it
// asks a scratch handle once.
var caBlobBuiltIn = sync.OnceValue(func() bool {
	e := C.curl_easy_init()
	if e == nil {
		return true // let the real call report the error
	}
	defer C.curl_easy_cleanup(e)
	pem := []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
	p := C.CBytes(pem)
	defer C.free(p)
	rc := C.curlpoll_setopt_blob(e, C.CURLOPT_CAINFO_BLOB, p, C.size_t(len(pem)))
	return rc != C.CURLE_NOT_BUILT_IN && rc != C.CURLE_UNKNOWN_OPTION
})

// caFileOpt is the file option that stands in for a blob option.
func caFileOpt(blobOpt C.CURLoption) C.CURLoption {
	if blobOpt == C.CURLOPT_PROXY_CAINFO_BLOB {
		return C.CURLOPT_PROXY_CAINFO
	}
	return C.CURLOPT_CAINFO
}

// caFileKey names a CA file by the SHA-256 of its contents.
type caFileKey [sha256.Size]byte

// caFiles are the CA files in use, by content.
var caFiles struct {
	mu    sync.Mutex // guards dir and files
	dir   string     // made on first use, 0700
	files map[caFileKey]*caFile
}

type caFile struct {
	path string
	refs int
}

// acquireCAFile returns the path of a file holding pem, writing it if no
// user holds one yet; releaseCAFile(key) lets go of it.
func acquireCAFile(pem []byte) (path string, key caFileKey, err error) {
	key = sha256.Sum256(pem)
	caFiles.mu.Lock()
	defer caFiles.mu.Unlock()
	if f := caFiles.files[key]; f != nil {
		f.refs++
		return f.path, key, nil
	}
	if caFiles.dir == "" {
		if caFiles.dir, err = os.MkdirTemp("", "curlpoll-ca-"); err != nil {
			caFiles.dir = ""
			return "", key, err
		}
		caFiles.files = make(map[caFileKey]*caFile)
	}
	f, err := os.CreateTemp(caFiles.dir, "ca-*.pem")
	if err != nil {
		return "", key, err
	}
	_, err = f.Write(pem)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", key, err
	}
	caFiles.files[key] = &caFile{path: f.Name(), refs: 1}
	return f.Name(), key, nil
}

// releaseCAFile drops a reference taken by acquireCAFile, and removes the
// file (and the directory, when it is empty) with the last one.
func releaseCAFile(key caFileKey) {
	caFiles.mu.Lock()
	defer caFiles.mu.Unlock()
	f := caFiles.files[key]
	if f == nil {
		return
	}
	if f.refs--; f.refs > 0 {
		return
	}
	os.Remove(f.path)
	delete(caFiles.files, key)
	if len(caFiles.files) == 0 {
		os.Remove(caFiles.dir)
		caFiles.dir = ""
	}
}

// holdCAFiles makes m hold the CA files e names until m is closed: libcurl
// keeps the connections they verified in m's pool, and reuses one only for
// a transfer that names the same file, so the file must outlive the Easy's
// hold on it (a pooled Easy lets go of it at every Reset, and the next
// transfer would get a file of another name). Driver only.
func (m *Multi) holdCAFiles(e *Easy) {
	for _, key := range e.caFiles {
		if _, ok := m.caFiles[key]; ok {
			continue
		}
		if m.caFiles == nil {
			m.caFiles = make(map[caFileKey]struct{})
		}
		holdCAFile(key)
		m.caFiles[key] = struct{}{}
	}
}

// holdCAFile takes one more reference to a CA file held already.
func holdCAFile(key caFileKey) {
	caFiles.mu.Lock()
	defer caFiles.mu.Unlock()
	if f := caFiles.files[key]; f != nil {
		f.refs++
	}
}

// setCABlob sets a CA blob option, or on libcurl builds without blobs the
// matching file option to a CA file the Easy holds until the option is set
// again, Reset or Close.
func (e *Easy) setCABlob(opt C.CURLoption, pem []byte) error {
	if caBlobBuiltIn() {
		return e.setBlob(opt, pem)
	}
	if err := e.idle(); err != nil {
		return err
	}
	fileOpt := caFileOpt(opt)
	if len(pem) == 0 {
		e.dropCAFile(fileOpt)
		return optErr(fileOpt, C.curlpoll_setopt_ptr(e.c, fileOpt, nil))
	}
	path, key, err := acquireCAFile(pem)
	if err != nil {
		return err
	}
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if err := optErr(fileOpt, C.curlpoll_setopt_str(e.c, fileOpt, cs)); err != nil {
		releaseCAFile(key)
		return err
	}
	e.dropCAFile(fileOpt)
	if e.caFiles == nil {
		e.caFiles = make(map[C.CURLoption]caFileKey, 1)
	}
	e.caFiles[fileOpt] = key
	return nil
}

// dropCAFile lets go of the CA file held for opt, if any.
func (e *Easy) dropCAFile(opt C.CURLoption) {
	if key, ok := e.caFiles[opt]; ok {
		delete(e.caFiles, opt)
		releaseCAFile(key)
	}
}

// dropCAFiles lets go of every CA file the Easy holds (Reset, Close).
func (e *Easy) dropCAFiles() {
	for opt := range e.caFiles {
		e.dropCAFile(opt)
	}
}
