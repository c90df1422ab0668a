package curlpoll_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/curlpoll/curlpoll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSmoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	m, err := curlpoll.NewMulti()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	var buf bytes.Buffer
	e.SetURL(srv.URL)
	e.SetWriter(&buf)
	if err := m.Do(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	code, _ := e.ResponseCode()
	if buf.String() != "hello" || code != 200 {
		t.Fatalf("got %q %d", buf.String(), code)
	}
}
