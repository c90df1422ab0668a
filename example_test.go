package curlpoll_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/curlpoll/curlpoll"
)

func ExampleMulti_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from libcurl\n")
	}))
	defer srv.Close()

	m, err := curlpoll.NewMulti()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	e, err := curlpoll.NewEasy()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	e.SetURL(srv.URL)
	e.SetWriter(os.Stdout)
	if err := m.Do(context.Background(), e); err != nil {
		log.Fatal(err)
	}
	code, _ := e.ResponseCode()
	fmt.Println("status", code)
	// Output:
	// hello from libcurl
	// status 200
}

func ExampleMulti_Start() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Answer", "42")
		io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()

	m, _ := curlpoll.NewMulti()
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL)

	t, err := m.Start(context.Background(), e)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	header, err := t.Header()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(header[0])
	n, err := io.Copy(io.Discard, t) // a slow reader pauses the transfer
	fmt.Println(n, err)
	// Output:
	// HTTP/1.1 200 OK
	// 1048576 <nil>
}

// Put a curlpoll.Transport in an http.Client, and every request the client
// makes runs on libcurl, with net/http's semantics.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.UserAgent())
	}))
	defer srv.Close()

	tr := &curlpoll.Transport{} // the zero value is ready to use
	defer tr.Close()
	client := &http.Client{Transport: tr}

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Proto)
	fmt.Println(string(body))
	// Output:
	// 200 OK HTTP/1.1
	// hello, Go-http-client/1.1
}
