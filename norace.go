//go:build !race

package curlpoll

// See race.go: without the race detector there is nothing to annotate.

func raceReleaseIO() {}

func raceAcquireIO() {}
