//go:build !linux

package curlpoll

// curlpoll drives libcurl through an epoll set (package netpoll), so far on
// Linux only. Building it elsewhere fails here on purpose, rather than
// building a package that half works.
const _ = "curlpoll: only Linux is supported" + 1
