package curlhttp

import (
	"net/http"
	"time"
)

// The Transport's converters, for fuzzing.
var (
	ValidateRequest    = validateRequest
	RequestHeaderLines = requestHeaderLines
	ParseHeaderBlock   = parseHeaderBlock
	RequestTarget      = requestTarget // the URL libcurl is given (without ServerName)
)

// ParseStatusLine is parseStatusLine on a fresh Response.
func ParseStatusLine(line string) (*http.Response, error) {
	resp := &http.Response{}
	return resp, parseStatusLine(resp, line)
}

// SetVerdictTTL sets how long a TLS verification verdict is kept, and
// returns the function that restores it.
func SetVerdictTTL(d time.Duration) (restore func()) {
	old := verdictTTL
	verdictTTL = d
	return func() { verdictTTL = old }
}

// Multis reports how many Multis the Transport holds (its shards and the
// retired ones still in use).
func Multis(tr *Transport) int {
	p := tr.pool()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.multis)
}

// ResponsesHeld reports how many responses ResponseInfo can still find
// the transfers of.
func ResponsesHeld() int {
	n := 0
	for i := range responseShards {
		s := &responseShards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// SameHost is sameHost, for the tests.
var SameHost = sameHost
