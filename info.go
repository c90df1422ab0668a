package curlpoll

// #include "shim.h"
import "C"

import (
	"fmt"
	"net/netip"
	"time"
)

// The getinfo funnels: the only callers of curl_easy_getinfo.

// The info* funnels are for callers outside a transfer; the raw* ones skip
// that check, for the driver and callbacks while the transfer runs.

func (e *Easy) infoLong(info C.CURLINFO) (int64, error) {
	if err := e.idle(); err != nil {
		return 0, err
	}
	return e.rawLong(info)
}

func (e *Easy) infoOff(info C.CURLINFO) (int64, error) {
	if err := e.idle(); err != nil {
		return 0, err
	}
	return e.rawOff(info)
}

func (e *Easy) infoString(info C.CURLINFO) (string, error) {
	if err := e.idle(); err != nil {
		return "", err
	}
	return e.rawString(info)
}

func (e *Easy) rawLong(info C.CURLINFO) (int64, error) {
	r := C.curlpoll_getinfo_long(hnd(e.c), info)
	return int64(r.v), infoErr(info, r.rc)
}

func (e *Easy) rawOff(info C.CURLINFO) (int64, error) {
	r := C.curlpoll_getinfo_off(hnd(e.c), info)
	return int64(r.v), infoErr(info, r.rc)
}

func (e *Easy) rawString(info C.CURLINFO) (string, error) {
	var v *C.char
	if err := infoErr(info, C.curlpoll_getinfo_str(e.c, info, &v)); err != nil || v == nil {
		return "", err
	}
	return C.GoString(v), nil
}

func infoErr(info C.CURLINFO, rc C.CURLcode) error {
	if rc == C.CURLE_OK {
		return nil
	}
	return fmt.Errorf("curlpoll: getting info %#x: %w", int(info), Code(rc))
}

// ResponseCode returns the last response's status code
// (CURLINFO_RESPONSE_CODE); 0 if none was received.
func (e *Easy) ResponseCode() (int, error) {
	v, err := e.infoLong(C.CURLINFO_RESPONSE_CODE)
	return int(v), err
}

// HTTPVersion returns the HTTP version of the last response
// (CURLINFO_HTTP_VERSION): HTTPVersion1_0, HTTPVersion1_1 or HTTPVersion2.
func (e *Easy) HTTPVersion() (HTTPVersion, error) {
	v, err := e.infoLong(C.CURLINFO_HTTP_VERSION)
	return HTTPVersion(v), err
}

// EffectiveURL returns the last URL used (CURLINFO_EFFECTIVE_URL).
func (e *Easy) EffectiveURL() (string, error) { return e.infoString(C.CURLINFO_EFFECTIVE_URL) }

// ContentType returns the response's Content-Type (CURLINFO_CONTENT_TYPE).
func (e *Easy) ContentType() (string, error) { return e.infoString(C.CURLINFO_CONTENT_TYPE) }

// PrimaryAddr returns the IP address and port of the last connection
// (CURLINFO_PRIMARY_IP, CURLINFO_PRIMARY_PORT).
func (e *Easy) PrimaryAddr() (ip string, port int, err error) {
	if ip, err = e.infoString(C.CURLINFO_PRIMARY_IP); err != nil {
		return "", 0, err
	}
	p, err := e.infoLong(C.CURLINFO_PRIMARY_PORT)
	return ip, int(p), err
}

// LocalAddr returns the local IP address and port of the last connection
// (CURLINFO_LOCAL_IP, CURLINFO_LOCAL_PORT).
func (e *Easy) LocalAddr() (ip string, port int, err error) {
	if ip, err = e.infoString(C.CURLINFO_LOCAL_IP); err != nil {
		return "", 0, err
	}
	p, err := e.infoLong(C.CURLINFO_LOCAL_PORT)
	return ip, int(p), err
}

// NumConnects returns how many new connections the last transfer opened
// (CURLINFO_NUM_CONNECTS); 0 means it reused one.
func (e *Easy) NumConnects() (int, error) {
	v, err := e.infoLong(C.CURLINFO_NUM_CONNECTS)
	return int(v), err
}

// RedirectCount returns how many redirects were followed (CURLINFO_REDIRECT_COUNT).
func (e *Easy) RedirectCount() (int, error) {
	v, err := e.infoLong(C.CURLINFO_REDIRECT_COUNT)
	return int(v), err
}

// DownloadSize returns the body bytes received (CURLINFO_SIZE_DOWNLOAD_T).
func (e *Easy) DownloadSize() (int64, error) { return e.infoOff(C.CURLINFO_SIZE_DOWNLOAD_T) }

// UploadSize returns the body bytes sent (CURLINFO_SIZE_UPLOAD_T).
func (e *Easy) UploadSize() (int64, error) { return e.infoOff(C.CURLINFO_SIZE_UPLOAD_T) }

// ContentLength returns the response's Content-Length, -1 if unknown
// (CURLINFO_CONTENT_LENGTH_DOWNLOAD_T).
func (e *Easy) ContentLength() (int64, error) {
	return e.infoOff(C.CURLINFO_CONTENT_LENGTH_DOWNLOAD_T)
}

// Timings is libcurl's breakdown of a transfer, each phase measured from the
// start of the transfer (the CURLINFO_*_TIME_T values). A phase the transfer
// never reached is 0.
type Timings struct {
	Queue         time.Duration // waiting in the multi handle for a connection slot; libcurl 8.6.0+ only, 0 before
	NameLookup    time.Duration // until the name was resolved
	Connect       time.Duration // until TCP (or the proxy) connected
	AppConnect    time.Duration // until the TLS handshake finished; 0 without TLS
	PreTransfer   time.Duration // until the request was about to be sent
	StartTransfer time.Duration // until the first response byte
	Total         time.Duration // the whole transfer
	Redirect      time.Duration // spent on followed redirects before the last transfer
}

// Timings returns the last transfer's timings.
func (e *Easy) Timings() (Timings, error) {
	if err := e.idle(); err != nil {
		return Timings{}, err
	}
	var ci C.struct_curlpoll_info
	C.curlpoll_info(e.c, queueTimeKnown(), &ci)
	if ci.failed != 0 && ci.failed != C.CURLINFO_NUM_CONNECTS {
		return Timings{}, infoErr(ci.failed, ci.rc)
	}
	return timingsOf(&ci), nil
}

// TransferInfo is what a finished transfer leaves to know about it: its
// timings, its connection's addresses, and whether that connection was
// reused from an earlier transfer.
type TransferInfo struct {
	Timings
	LocalAddr  netip.AddrPort // the local end of the last connection; invalid if none was made
	RemoteAddr netip.AddrPort // the peer of the last connection (a proxy, if one was used)
	Reused     bool           // the transfer ran on a connection an earlier one opened
	Connects   int            // new connections the transfer opened (CURLINFO_NUM_CONNECTS)
}

// Info returns the last transfer's timings, addresses and connection reuse
// (CURLINFO_*_TIME_T, CURLINFO_LOCAL_IP/PORT, CURLINFO_PRIMARY_IP/PORT,
// CURLINFO_NUM_CONNECTS).
func (e *Easy) Info() (TransferInfo, error) {
	if err := e.idle(); err != nil {
		return TransferInfo{}, err
	}
	return e.rawInfo()
}

// rawInfo reads what Info returns with one call into C (curlpoll_info).
func (e *Easy) rawInfo() (TransferInfo, error) {
	var ci C.struct_curlpoll_info
	C.curlpoll_info(e.c, queueTimeKnown(), &ci)
	return transferInfo(&ci)
}

// queueTimeKnown tells curlpoll_info whether libcurl knows
// CURLINFO_QUEUE_TIME_T, new in 8.6.0.
func queueTimeKnown() C.int {
	if libcurlKnowsQueueTime() {
		return 1
	}
	return 0
}

// transferInfo converts what curlpoll_info read.
func transferInfo(ci *C.struct_curlpoll_info) (TransferInfo, error) {
	if ci.failed != 0 {
		return TransferInfo{}, infoErr(ci.failed, ci.rc)
	}
	info := TransferInfo{Timings: timingsOf(ci)}
	info.RemoteAddr = addrPortOf(&ci.primary_ip, ci.primary_port)
	info.LocalAddr = addrPortOf(&ci.local_ip, ci.local_port)
	info.Connects = int(ci.num_connects)
	info.Reused = ci.num_connects == 0 && info.RemoteAddr.IsValid()
	return info, nil
}

// timingsOf converts the timings curlpoll_info read, in microseconds.
func timingsOf(ci *C.struct_curlpoll_info) Timings {
	us := func(i int) time.Duration { return time.Duration(ci.times[i]) * time.Microsecond }
	return Timings{
		NameLookup:    us(0),
		Connect:       us(1),
		AppConnect:    us(2),
		PreTransfer:   us(3),
		StartTransfer: us(4),
		Total:         us(5),
		Redirect:      us(6),
		Queue:         us(7),
	}
}

// addrPortOf parses a NUL-terminated address and its port; invalid if the
// address is unknown.
func addrPortOf(ip *[64]C.char, port C.long) netip.AddrPort {
	a, err := netip.ParseAddr(C.GoString(&ip[0]))
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(port))
}
