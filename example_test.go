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
