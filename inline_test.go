package curlpoll_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestSetRequestHeader: in a pre-request function, SetRequestHeader
// replaces the first line of a field the header list has (the name without
// regard to case, "Name: value" or "Name;"), keeps the others, and adds a
// field the list lacks; run again for the same request (as libcurl does
// when it retries on a new connection) it adds nothing; outside that
// function, and for a line without a field name, it refuses.
func TestSetRequestHeader(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"X-A", "X-B", "X-C", "X-D"} {
			io.WriteString(w, k+"="+strings.Join(r.Header.Values(k), ",")+" ")
		}
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetHTTPHeader([]string{"x-a: guess", "X-B;", "X-A: second", "X-C: kept"}))
	must(t, e.SetPrereqFunc(func(tr *curlpoll.Transfer, c curlpoll.ConnInfo) error {
		for range 2 {
			for _, l := range []string{"X-A: right", "X-B: filled", "X-D: new"} {
				if err := tr.SetRequestHeader(l); err != nil {
					return err
				}
			}
		}
		if err := tr.SetRequestHeader(": nameless"); err == nil {
			t.Error("SetRequestHeader of a line without a name: no error")
		}
		return nil
	}))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	if err := tr.SetRequestHeader("X-A: late"); err == nil {
		t.Error("SetRequestHeader outside the pre-request function: no error")
	}
	body, err := io.ReadAll(tr)
	must(t, err)
	must(t, tr.Close())
	if want := "X-A=right,second X-B=filled X-C=kept X-D=new "; string(body) != want {
		t.Errorf("the server saw %q, want %q", body, want)
	}
}

// TestInlineCallsFromAnotherGoroutine: while a transfer's pre-request
// function runs on the driver, AddRequestHeader and TLSState called on
// another goroutine must refuse (an error, a TLSState that is not OK):
// libcurl is using the handle on the driver's thread at that moment, and
// the header list the call would change is the one it is about to send.
// The function itself may call them.
func TestInlineCallsFromAnotherGoroutine(t *testing.T) {
	srv, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Inside")+"|"+r.Header.Get("X-Outside"))
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetCAInfoBlob(ca))
	type outside struct {
		addErr error
		tlsOK  bool
	}
	got := make(chan outside, 1)
	insideTLS := false
	must(t, e.SetPrereqFunc(func(tr *curlpoll.Transfer, c curlpoll.ConnInfo) error {
		done := make(chan struct{})
		go func() {
			defer close(done)
			got <- outside{tr.AddRequestHeader("X-Outside: 1"), tr.TLSState().OK()}
		}()
		select { // the callback waits (bounded) while the other goroutine calls
		case <-done:
		case <-time.After(20 * time.Second):
			return errors.New("the other goroutine did not return")
		}
		insideTLS = tr.TLSState().OK()
		return tr.AddRequestHeader("X-Inside: 1")
	}))
	tr, err := m.Start(context.Background(), e)
	must(t, err)
	body, err := io.ReadAll(tr)
	must(t, err)
	must(t, tr.Close())
	o := <-got
	if o.addErr == nil {
		t.Error("AddRequestHeader from another goroutine during the pre-request function: no error")
	}
	if string(body) != "1|" {
		t.Errorf("the server saw %q (X-Inside|X-Outside), want %q", body, "1|")
	}
	if o.tlsOK {
		t.Error("TLSState from another goroutine during the pre-request function is OK")
	}
	if curlpoll.TLSStateSupported() && !insideTLS {
		t.Error("TLSState inside the pre-request function is not OK")
	}
}

// TestTLSStateHandshake: TLSState.Handshake names the TLS handshake behind
// a connection: the same for requests on a kept-alive connection, another
// for a new connection to the same server with the same certificate.
func TestTLSStateHandshake(t *testing.T) {
	if !curlpoll.TLSStateSupported() {
		t.Skip("TLSState is not supported on this libcurl")
	}
	srv, ca := tlsServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/hello")
	must(t, e.SetCAInfoBlob(ca))
	// HTTP/1.1: libcurl finds the closed connection dead and opens another
	// (an HTTP/2 stream on it would fail).
	must(t, e.SetHTTPVersion(curlpoll.HTTPVersion1_1))
	var ids [][32]byte
	must(t, e.SetPrereqFunc(func(tr *curlpoll.Transfer, _ curlpoll.ConnInfo) error {
		id, ok := tr.TLSState().Handshake()
		if !ok {
			return errors.New("no handshake identifier")
		}
		ids = append(ids, id)
		return nil
	}))
	for i := range 3 {
		if i == 2 {
			srv.CloseClientConnections()
		}
		must(t, m.Do(context.Background(), e))
	}
	// libcurl may try the third request on the closed connection first
	// (a call more), and then sends it on a new one: the last call's.
	last := ids[len(ids)-1]
	switch {
	case len(ids) < 3:
		t.Fatalf("%d pre-request calls, want 3 or more", len(ids))
	case ids[0] != ids[1]:
		t.Error("two requests on one connection: two handshake identifiers")
	case last == ids[1] || last == [32]byte{}:
		t.Errorf("a new connection: handshake identifier %x, the old one %x", last, ids[1])
	}
}

// TestTrailerFunc: a chunked upload's trailer function gives the fields the
// server reads after the body (r.Trailer); a line that is not a field, and
// an error from the function, fail the transfer with that error inside,
// where libcurl would have skipped the line.
func TestTrailerFunc(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		io.WriteString(w, string(b)+"|"+strings.Join(r.TransferEncoding, ",")+"|"+r.Trailer.Get("X-Sum")+"|"+r.Trailer.Get("X-Empty")+"|"+strings.Join(r.Trailer.Values("X-Two"), ","))
	}))
	m := newMulti(t)
	upload := func(f func(*curlpoll.Transfer) ([]string, error)) (string, error) {
		e := newEasy(t, srv.URL)
		must(t, e.SetPost(true))
		must(t, e.SetReader(strings.NewReader("hello")))
		must(t, e.SetPostFieldSize(-1)) // size unknown: chunked
		must(t, e.SetTrailerFunc(f))
		var out strings.Builder
		must(t, e.SetWriter(&out))
		err := m.Do(context.Background(), e)
		return out.String(), err
	}
	calls := 0
	got, err := upload(func(*curlpoll.Transfer) ([]string, error) {
		calls++
		return []string{"X-Sum: 5", "X-Empty: ", "X-Two: a", "X-Two: b"}, nil
	})
	must(t, err)
	if want := "hello|chunked|5||a,b"; got != want || calls != 1 {
		t.Errorf("the server saw %q after %d calls, want %q after 1", got, calls, want)
	}

	for _, line := range []string{"X Bad: 1", "X-Bad:1", "X-Bad: a\r\nX-Injected: 1", "X-Bad", ": v"} {
		_, err := upload(func(*curlpoll.Transfer) ([]string, error) { return []string{"X-Ok: 1", line}, nil })
		var ce *curlpoll.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "trailer line") {
			t.Errorf("trailer line %q: %v, want an *Error saying so", line, err)
		}
	}
	errMine := errors.New("no trailers today")
	_, err = upload(func(*curlpoll.Transfer) ([]string, error) { return nil, errMine })
	if !errors.Is(err, errMine) {
		t.Errorf("the function's error: got %v", err)
	}
	// Removed, and after Reset, no function runs.
	e := newEasy(t, srv.URL)
	must(t, e.SetTrailerFunc(func(*curlpoll.Transfer) ([]string, error) { return nil, errMine }))
	must(t, e.SetTrailerFunc(nil))
	must(t, e.SetPost(true))
	must(t, e.SetReader(strings.NewReader("x")))
	must(t, e.SetPostFieldSize(-1))
	must(t, m.Do(context.Background(), e))
}

// TestTrailerFuncEveryTransfer: an Easy reused for upload after upload
// sends its trailers each time. libcurl before 8.7.0 drops the trailer
// callback once it has called it, and keeps the trailer state, which the
// next chunked upload would write outside its buffer with: the driver sets
// the callback again, and the handle is renewed, before each transfer.
// Setting another function between transfers changes nothing.
func TestTrailerFuncEveryTransfer(t *testing.T) {
	srv := testServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(b)+"|"+r.Trailer.Get("X-Sum"))
	}))
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetPost(true))
	must(t, e.SetPostFieldSize(-1))
	f := func(*curlpoll.Transfer) ([]string, error) { return []string{"X-Sum: 5"}, nil }
	must(t, e.SetTrailerFunc(f))
	for i := range 4 {
		if i == 2 {
			must(t, e.SetTrailerFunc(f))
		}
		if i == 3 {
			// Without a trailer function: a plain chunked upload on the
			// handle that sent trailers.
			must(t, e.SetTrailerFunc(nil))
		}
		must(t, e.SetReader(strings.NewReader("hello")))
		var out strings.Builder
		must(t, e.SetWriter(&out))
		must(t, m.Do(context.Background(), e))
		want := "hello|5"
		if i == 3 {
			want = "hello|"
		}
		if out.String() != want {
			t.Errorf("upload %d: the server saw %q, want %q", i+1, out.String(), want)
		}
	}
}
