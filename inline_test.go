package curlpoll_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/curlpoll/curlpoll"
)

// TestAddRequestHeader: a pre-request function adds header lines to the
// request about to be sent, after those of SetHTTPHeader, and to a request
// without a list of its own; outside that function AddRequestHeader refuses.
func TestAddRequestHeader(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Set")+"|"+r.Header.Get("X-Added")+"|"+r.Header.Get("X-Conn"))
	}))
	m := newMulti(t)
	for _, list := range [][]string{{"X-Set: yes"}, nil} {
		e := newEasy(t, srv.URL)
		if list != nil {
			must(t, e.SetHTTPHeader(list))
		}
		must(t, e.SetPrereqFunc(func(tr *curlpoll.Transfer, c curlpoll.ConnInfo) error {
			if err := tr.AddRequestHeader("X-Added: 1"); err != nil {
				return err
			}
			return tr.AddRequestHeader("X-Conn: " + c.Remote.String())
		}))
		tr, err := m.Start(context.Background(), e)
		must(t, err)
		if err := tr.AddRequestHeader("X-Late: 1"); err == nil {
			t.Error("AddRequestHeader outside the pre-request function: no error")
		}
		body, err := io.ReadAll(tr)
		must(t, err)
		must(t, tr.Close())
		want := "|1|" + strings.TrimPrefix(srv.URL, "http://")
		if list != nil {
			want = "yes" + want
		}
		if string(body) != want {
			t.Errorf("the server saw %q, want %q", body, want)
		}
	}
}
