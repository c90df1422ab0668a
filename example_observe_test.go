package curlpoll_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/curlpoll/curlpoll"
)

// Transfer.Info reports a finished transfer's timings and connection, on
// the low-level API.
func ExampleTransfer_Info() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	m, err := curlpoll.NewMulti()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL)

	t, err := m.Start(context.Background(), e)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, t)
	info, ok := t.Info()
	t.Close()
	fmt.Println("finished:", ok, "new connections:", info.Connects, "reused:", info.Reused)
	fmt.Println("local address known:", info.LocalAddr.IsValid())
	// Output:
	// finished: true new connections: 1 reused: false
	// local address known: true
}

// SetLogger sends an Easy's verbose output to a slog.Logger; the records
// carry the transfer's ID.
func ExampleEasy_SetLogger() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	m, err := curlpoll.NewMulti()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL + "/x")

	var records []string
	h := &recordHandler{}
	e.SetLogger(slog.New(h))
	if err := m.Do(context.Background(), e); err != nil {
		log.Fatal(err)
	}
	for _, l := range h.Lines() {
		if kind, rest, _ := strings.Cut(l, " "); kind == "header-out" {
			_, msg, _ := strings.Cut(rest, " ") // drop the transfer's ID
			if strings.HasPrefix(msg, "GET") {
				records = append(records, msg)
			}
		}
	}
	fmt.Println(records)
	// Output:
	// [GET /x HTTP/1.1]
}

// SetProgressInterval throttles an Easy's progress function.
func ExampleEasy_SetProgressInterval() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 4<<20))
	}))
	defer srv.Close()
	m, err := curlpoll.NewMulti()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL)
	e.SetProgressInterval(time.Hour) // at most the first call, here
	calls := 0
	e.SetProgressFunc(func(p curlpoll.Progress) error {
		calls++ // runs on the Multi's goroutine, one at a time
		return nil
	})
	if err := m.Do(context.Background(), e); err != nil {
		log.Fatal(err)
	}
	fmt.Println("progress calls:", calls)
	// Output:
	// progress calls: 1
}

// Version describes the libcurl that curlpoll runs on.
func ExampleVersion() {
	v := curlpoll.Version()
	fmt.Println(v.Version != "", len(v.Protocols) > 0)
	// Output:
	// true true
}
