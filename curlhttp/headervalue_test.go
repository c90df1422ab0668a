package curlhttp

import (
	"math/rand/v2"
	"testing"
)

// validHeaderValueBytewise is validHeaderValue one byte at a time: what
// the word-at-a-time version must answer.
func validHeaderValueBytewise(v string) bool {
	for i := 0; i < len(v); i++ {
		if badValueBytes[v[i]] {
			return false
		}
	}
	return true
}

// TestValidHeaderValue checks the word-at-a-time test against the bytewise
// one: every byte at every place in values of up to 20 bytes, then random
// values mixing clean bytes, tabs, spaces, bytes past 0x7f and bad ones
// (a borrow from one byte to the next must not hide or invent a bad one).
func TestValidHeaderValue(t *testing.T) {
	for b := 0; b < 256; b++ {
		for n := 1; n <= 20; n++ {
			for pos := 0; pos < n; pos++ {
				buf := make([]byte, n)
				for i := range buf {
					buf[i] = 'a'
				}
				buf[pos] = byte(b)
				if got, want := validHeaderValue(string(buf)), validHeaderValueBytewise(string(buf)); got != want {
					t.Fatalf("byte %#x at %d of %d: %v, want %v", b, pos, n, got, want)
				}
			}
		}
	}
	classes := []byte{0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xff, 'a', 'Z'}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		buf := make([]byte, 1+r.IntN(40))
		for i := range buf { // valid bytes: tab, 0x20-0x7e, 0x80-0xff
			switch c := byte(r.IntN(256)); {
			case c == 0x7f || c < 0x20:
				buf[i] = '\t'
			default:
				buf[i] = c
			}
		}
		if r.IntN(2) == 0 { // and one byte of any class somewhere
			buf[r.IntN(len(buf))] = classes[r.IntN(len(classes))]
		}
		if got, want := validHeaderValue(string(buf)), validHeaderValueBytewise(string(buf)); got != want {
			t.Fatalf("%q: %v, want %v", buf, got, want)
		}
	}
}
