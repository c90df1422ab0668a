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
// it opened. libcurl 7.88 creates the multi handle's wake-up socketpair
// (for curl_multi_wakeup) without SOCK_CLOEXEC, so every child that os/exec
// starts would inherit it. syscall.ForkLock, held for writing,
// keeps forks out of the window; a descriptor that another thread opened
// meanwhile may be marked too, which changes nothing for descriptors Go
// opened (they are close-on-exec already).
func newMultiHandle() unsafe.Pointer {
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	before := openSockets()
	c := C.curl_multi_init()
	for fd := range openSockets() {
		if !before[fd] {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
	return c
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
