package curlpoll

// #include "shim.h"
import "C"

import (
	"fmt"
	"time"
)

// SetInterface binds the connection's local end to an interface name, an
// IP address or a host name (CURLOPT_INTERFACE); "if!eth0" and "host!name"
// force one reading.
func (e *Easy) SetInterface(iface string) error { return e.setString(C.CURLOPT_INTERFACE, iface) }

// SetLocalPort binds the connection's local end to a port from port to
// port+n-1 (CURLOPT_LOCALPORT, CURLOPT_LOCALPORTRANGE); 0 lets the system
// choose.
func (e *Easy) SetLocalPort(port, n int) error {
	if port < 0 || port > 65535 || n < 0 || port+n-1 > 65535 {
		return fmt.Errorf("curlpoll: local port range %d+%d is out of range", port, n)
	}
	if err := e.setLong(C.CURLOPT_LOCALPORT, int64(port)); err != nil {
		return err
	}
	return e.setLong(C.CURLOPT_LOCALPORTRANGE, int64(max(n, 1)))
}

// IPResolve picks the IP versions a host name may resolve to.
type IPResolve int

// IP versions for SetIPResolve.
const (
	IPResolveWhatever IPResolve = C.CURL_IPRESOLVE_WHATEVER // CURL_IPRESOLVE_WHATEVER: IPv4 and IPv6, the default
	IPResolveV4       IPResolve = C.CURL_IPRESOLVE_V4       // CURL_IPRESOLVE_V4: IPv4 only
	IPResolveV6       IPResolve = C.CURL_IPRESOLVE_V6       // CURL_IPRESOLVE_V6: IPv6 only
)

// SetIPResolve picks the IP versions to connect with (CURLOPT_IPRESOLVE).
func (e *Easy) SetIPResolve(v IPResolve) error { return e.setLong(C.CURLOPT_IPRESOLVE, int64(v)) }

// SetTCPNoDelay turns Nagle's algorithm off, libcurl's default, or on
// (CURLOPT_TCP_NODELAY).
func (e *Easy) SetTCPNoDelay(on bool) error { return e.setBool(C.CURLOPT_TCP_NODELAY, on) }

// SetTCPKeepAliveTiming sets when keep-alive probes start on an idle
// connection and how often they repeat (CURLOPT_TCP_KEEPIDLE,
// CURLOPT_TCP_KEEPINTVL), in whole seconds; SetTCPKeepAlive turns them on.
func (e *Easy) SetTCPKeepAliveTiming(idle, interval time.Duration) error {
	if err := e.setLong(C.CURLOPT_TCP_KEEPIDLE, max(int64(idle/time.Second), 1)); err != nil {
		return err
	}
	return e.setLong(C.CURLOPT_TCP_KEEPINTVL, max(int64(interval/time.Second), 1))
}

// SetDNSServers sets the DNS servers to use, "ip[:port],..."
// (CURLOPT_DNS_SERVERS); only libcurl built with c-ares has it, others
// refuse it (CURLE_NOT_BUILT_IN).
func (e *Easy) SetDNSServers(servers string) error {
	return e.setString(C.CURLOPT_DNS_SERVERS, servers)
}

// SetDNSCacheTimeout sets how long resolved names are kept
// (CURLOPT_DNS_CACHE_TIMEOUT), in whole seconds; negative keeps them for
// ever, 0 not at all.
func (e *Easy) SetDNSCacheTimeout(d time.Duration) error {
	v := int64(d / time.Second)
	if d < 0 {
		v = -1
	}
	return e.setLong(C.CURLOPT_DNS_CACHE_TIMEOUT, v)
}

// SetHappyEyeballsTimeout sets the head start of IPv6 over IPv4 when a host
// has both (CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS).
func (e *Easy) SetHappyEyeballsTimeout(d time.Duration) error {
	return e.setLong(C.CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS, d.Milliseconds())
}

// SetMaxRecvSpeed limits the download speed to bytesPerSecond on average
// (CURLOPT_MAX_RECV_SPEED_LARGE); 0 removes the limit.
func (e *Easy) SetMaxRecvSpeed(bytesPerSecond int64) error {
	return e.setOff(C.CURLOPT_MAX_RECV_SPEED_LARGE, bytesPerSecond)
}

// SetMaxSendSpeed limits the upload speed to bytesPerSecond on average
// (CURLOPT_MAX_SEND_SPEED_LARGE); 0 removes the limit.
func (e *Easy) SetMaxSendSpeed(bytesPerSecond int64) error {
	return e.setOff(C.CURLOPT_MAX_SEND_SPEED_LARGE, bytesPerSecond)
}

// SetResumeFrom starts a download, or an upload, at byte offset
// (CURLOPT_RESUME_FROM_LARGE).
func (e *Easy) SetResumeFrom(offset int64) error {
	return e.setOff(C.CURLOPT_RESUME_FROM_LARGE, offset)
}
