package curlpoll_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

type errnoStep struct {
	name string
	url  string
	want syscall.Errno // 0: no errno
}

// errnoSteps are failures in a row on one handle: refused connects and
// connection resets, twice each (two real refusals both carry their
// errno), between a name that does not resolve and a TLS handshake the
// server aborts, which carry none: a failure must not report the errno of
// an earlier one (CURLINFO_OS_ERRNO outlives the transfer in libcurl 7.x).
func errnoSteps(t *testing.T) []errnoStep {
	fs, err := faultserver.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	refused := fs.URL(faultserver.Refuse, faultserver.HTTP1, "")
	reset := fs.URL(faultserver.RSTHeaders, faultserver.HTTP1, "")
	tlsFail := fs.URL(faultserver.TLSHandshakeFail, faultserver.TLS1, "")
	const dnsFail = "http://curlpoll.invalid/" // RFC 6761: never resolves
	return []errnoStep{
		{"refused", refused, syscall.ECONNREFUSED},
		{"refused again", refused, syscall.ECONNREFUSED},
		{"DNS failure", dnsFail, 0},
		{"TLS failure", tlsFail, 0},
		{"refused after", refused, syscall.ECONNREFUSED},
		{"TLS failure after refused", tlsFail, 0},
		{"reset", reset, syscall.ECONNRESET},
		{"reset again", reset, syscall.ECONNRESET},
		{"DNS failure after reset", dnsFail, 0},
	}
}

func checkErrno(t *testing.T, s errnoStep, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", s.name)
	}
	var ce *curlpoll.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: %v is not a *curlpoll.Error", s.name, err)
	}
	if ce.Errno != s.want {
		t.Errorf("%s: errno %d (%v), want %d", s.name, ce.Errno, err, s.want)
	}
	for _, e := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET} {
		if errors.Is(err, e) != (e == s.want) {
			t.Errorf("%s: errors.Is(err, %v) = %v", s.name, e, errors.Is(err, e))
		}
	}
}

// TestErrnoOfItsOwnFailure runs the steps on one reused Easy, reset between
// transfers, and on a Transport, whose pooled handles are reused.
func TestErrnoOfItsOwnFailure(t *testing.T) {
	steps := errnoSteps(t)
	t.Run("Easy", func(t *testing.T) {
		m := newMulti(t)
		e := newEasy(t, "http://127.0.0.1/")
		for _, s := range steps {
			must(t, e.Reset())
			must(t, e.SetURL(s.url))
			checkErrno(t, s, m.Do(context.Background(), e))
		}
	})
	t.Run("Transport", func(t *testing.T) {
		tr := &curlhttp.Transport{}
		defer tr.Close()
		for _, s := range steps {
			resp, err := tr.RoundTrip(mustReq("GET", s.url, nil))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: %s", s.name, resp.Status)
			}
			checkErrno(t, s, err)
			if strings.HasPrefix(s.name, "DNS") && !strings.Contains(err.Error(), "resolve") {
				t.Errorf("%s: %v", s.name, err)
			}
		}
	})
}
