package curlpoll_test

import (
	"net"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// TestReviewDialRelayPeerAddress: the relay takes only libcurl's socket
// (127.0.0.1, its port) for the connection it dials. Another local
// process that binds another loopback address (127.0.0.2 and up, all on
// lo) with the same port number, read from /proc/net/tcp, and connects
// first must not get the dialled connection.
func TestReviewDialRelayPeerAddress(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer ln.Close()
	// libcurl's socket: bound to 127.0.0.1 and a port, not connected yet.
	curlSide, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer curlSide.Close()
	port := curlSide.Addr().(*net.TCPAddr).Port
	// The intruder: the same port on 127.0.0.2.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port}, Timeout: time.Second}
	intruder, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2:%d: %v", port, err)
	}
	defer intruder.Close()
	ln.SetDeadline(time.Now().Add(500 * time.Millisecond))
	c, err := curlpoll.AcceptFrom(ln, port)
	if err == nil {
		c.Close()
		t.Fatalf("the relay accepted %v, not libcurl's 127.0.0.1:%d, as libcurl's connection", c.RemoteAddr(), port)
	}
}
