package curlpoll_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/curlpoll/curlpoll"
)

// Options that Easy has no setter for are set through the escape hatch
// of their kind, looked up in libcurl's option table.
func ExampleOptionByName() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Referer:", r.Referer())
	}))
	defer srv.Close()
	m, _ := curlpoll.NewMulti()
	defer m.Close()
	e, _ := curlpoll.NewEasy()
	defer e.Close()
	e.SetURL(srv.URL)

	referer, err := curlpoll.OptionByName("CURLOPT_REFERER")
	if err != nil {
		log.Fatal(err)
	}
	kind, _ := referer.Kind()
	fmt.Println(referer, "takes a", kind)
	if err := e.SetOptionString(referer, "https://example.com/"); err != nil {
		log.Fatal(err)
	}
	// The wrong kind is refused before libcurl sees it.
	fmt.Println(e.SetOptionLong(referer, 1))

	var body []byte
	e.SetWriter(writerFunc(func(p []byte) (int, error) { body = append(body, p...); return len(p), nil }))
	if err := m.Do(context.Background(), e); err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(body))
	// Output:
	// CURLOPT_REFERER takes a string
	// curlpoll: CURLOPT_REFERER takes a string, not a long
	// Referer: https://example.com/
}

// A Share carries cookies (or the DNS cache, or TLS sessions) across
// handles, here on two Multis.
func ExampleNewShare() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
			return
		}
		c, _ := r.Cookie("session")
		io.WriteString(w, "session="+c.Value+"\n")
	}))
	defer srv.Close()

	share, err := curlpoll.NewShare(curlpoll.ShareCookies)
	if err != nil {
		log.Fatal(err)
	}
	defer share.Close() // after the handles: deferred calls run last-in first-out

	m1, _ := curlpoll.NewMulti()
	defer m1.Close()
	m2, _ := curlpoll.NewMulti()
	defer m2.Close()
	for i, m := range []*curlpoll.Multi{m1, m2} {
		e, _ := curlpoll.NewEasy()
		defer e.Close()
		e.SetCookieFile("") // the cookie engine, on
		e.SetShare(share)
		e.SetURL(srv.URL + []string{"/login", "/whoami"}[i])
		e.SetWriter(writerFunc(func(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }))
		if err := m.Do(context.Background(), e); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// session=s1
}
