package curlpoll

import "net"

// AcceptFrom exposes acceptFrom (dial.go) to the review's tests.
func AcceptFrom(ln *net.TCPListener, port int) (*net.TCPConn, error) { return acceptFrom(ln, port) }
