package curlpoll

import "time"

// SetVerdictTTL sets how long a TLS verification verdict is kept, and
// returns the function that restores it.
func SetVerdictTTL(d time.Duration) (restore func()) {
	old := verdictTTL
	verdictTTL = d
	return func() { verdictTTL = old }
}
