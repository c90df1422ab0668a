//go:build race

package curlpoll

import "syscall"

// The happens-before edge of socket I/O, for the race detector. The
// syscall package releases a shared sync object before every write and
// acquires it after every read (syscall.ioSync), so that what a goroutine
// did before writing to a socket happens before what another did after
// reading from it: a net/http handler and its client, for instance.
// libcurl's reads and writes are C, which the detector does not see, so
// the driver does the same with empty reads and writes of /dev/null, which
// go through those annotations: raceReleaseIO before libcurl may send what
// the Go side handed over, raceAcquireIO after it has received, before
// the Go side sees the data.

var raceNull = func() int {
	fd, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}()

func raceReleaseIO() { syscall.Write(raceNull, nil) }

func raceAcquireIO() { syscall.Read(raceNull, nil) }
