//go:build !linux

package netpoll

// netpoll has only an epoll Set so far. Building it elsewhere fails here on
// purpose, rather than building a package that half works.
const _ = "netpoll: only Linux (epoll) is supported" + 1
