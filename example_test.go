package curlpoll_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/curlpoll/curlpoll"
)

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
