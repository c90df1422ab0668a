package curlpoll

// #include "shim.h"
import "C"

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newMultiHandle calls curl_multi_init and marks close-on-exec the sockets
// it opened. libcurl before 8.8.0 creates the multi handle's wake-up
// socketpair (for curl_multi_wakeup) without SOCK_CLOEXEC, so every child
// that os/exec starts would inherit it. syscall.ForkLock, held for
// writing, keeps forks out of the window. The pair takes the two lowest
// free descriptor numbers (POSIX), found before the call by opening two
// descriptors and closing them; if they are then a Unix stream socket each
// without close-on-exec, they are the pair. Otherwise (another thread took
// one of the numbers meanwhile) every such socket of the process is marked
// (Go opens none without close-on-exec). A scan of every descriptor before
// and after the call, as this did first, cost a new Multi 27 ms in a
// process with 8,000 descriptors open (a helper's run of go-github's
// tests, which make a Transport per test). From 8.8.0 libcurl makes the
// pair close-on-exec itself (socketpair.h; before pipe2, with pipe and
// FD_CLOEXEC: the read lock keeps forks out of that window, as Go's own
// such calls do).
func newMultiHandle() unsafe.Pointer {
	if libcurlVersion() >= 0x080800 {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		return C.curl_multi_init()
	}
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	var free [2]int
	for i := range free {
		fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			fd = -1
		}
		free[i] = fd
	}
	for _, fd := range free {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	c := C.curl_multi_init()
	if inheritableUnixStream(free[0]) && inheritableUnixStream(free[1]) {
		for _, fd := range free {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
		return c
	}
	for fd := range openSockets() {
		if inheritableUnixStream(fd) {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
	return c
}

// inheritableUnixStream reports whether fd is a Unix stream socket without
// close-on-exec.
func inheritableUnixStream(fd int) bool {
	if fd < 0 {
		return false
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC != 0 {
		return false
	}
	dom, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return err1 == nil && err2 == nil && dom == unix.AF_UNIX && typ == unix.SOCK_STREAM
}

// openSockets returns the process's open socket descriptors.
func openSockets() map[int]bool {
	socks := make(map[int]bool)
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return socks
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == int(d.Fd()) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			socks[fd] = true
		}
	}
	return socks
}
