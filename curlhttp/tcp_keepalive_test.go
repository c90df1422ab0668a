package curlhttp_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestTransportTCPKeepAlive: net/http's connections have TCP keep-alive
// probes on (its dialer's default: after 15 s idle, every 15 s), so a
// connection whose peer is gone without a reset (a host powered off, a
// network partition) fails once the probes go unanswered, and a request
// that waits on it for ever (a watch, a long poll: Kubernetes' informers)
// fails, rather than hang for ever. The Transport's own connections
// (without DialContext) must have them too: libcurl's default is off.
// Seen on Linux in /proc/net/tcp: the socket of an idle connection that
// waits for a response has its keep-alive timer running (timer_active 2),
// where it has no timer (0) without probes.
func TestTransportTCPKeepAlive(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp:", err)
	}
	release := make(chan struct{})
	defer close(release)
	peers := make(chan string, 4)
	ln := serveEach(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		peers <- c.RemoteAddr().String()
		<-release
	})
	url := "http://" + ln.Addr().String() + "/"
	for _, tc := range transports(t, nil) {
		errc := make(chan error, 1)
		go func() {
			resp, err := tc.rt.RoundTrip(mustReq("GET", url, nil))
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		var peer string
		select {
		case peer = <-peers:
		case err := <-errc:
			t.Fatalf("%s: request ended before the server read it: %v", tc.name, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no request in 10 s", tc.name)
		}
		_, port, _ := net.SplitHostPort(peer)
		_, srvPort, _ := net.SplitHostPort(ln.Addr().String())
		// The request is acknowledged at once on loopback: until then the
		// timer is the retransmission one (1).
		var timer string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			timer = tcpTimer(t, port, srvPort)
			if timer == "02" {
				break
			}
		}
		if timer != "02" {
			t.Errorf("%s: the client's socket (port %s) has timer %q, want the keep-alive timer (02)", tc.name, port, timer)
		}
	}
}

// tcpTimer returns the timer_active field of the established IPv4 socket
// from 127.0.0.1:port to 127.0.0.1:remotePort, from /proc/net/tcp. The
// remote end and the state count: an earlier connection from the same
// local port (to another test's server, or this one's in a run with
// -count) may still be there in TIME_WAIT, whose timer is 3.
func tcpTimer(t *testing.T, port, remotePort string) string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var p, rp int
	fmt.Sscan(port, &p)
	fmt.Sscan(remotePort, &rp)
	local, remote := fmt.Sprintf("0100007F:%04X", p), fmt.Sprintf("0100007F:%04X", rp)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 5 && f[1] == local && f[2] == remote && f[3] == "01" { // 01: ESTABLISHED
			return strings.SplitN(f[5], ":", 2)[0]
		}
	}
	return "(no socket)"
}
