package curlpoll_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/curlpoll/curlpoll"
)

func ExampleEasy_SetMIMEPost() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, fh, err := r.FormFile("report")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		fmt.Fprintf(w, "title=%s report=%s (%s, %s): %s\n", r.FormValue("title"), fh.Filename, fh.Header.Get("Content-Type"), fh.Header.Get("X-Source"), b)
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

	form := curlpoll.NewMIME()
	form.AddBytes("title", []byte("weekly"))
	// A part read from an io.Reader while the transfer runs, on a goroutine
	// of the transfer; -1: its size is unknown.
	form.AddReader("report", strings.NewReader("all good"), -1).
		SetFilename("report.csv").
		SetContentType("text/csv").
		SetHeaders([]string{"X-Source: example"})
	if err := e.SetMIMEPost(form); err != nil {
		log.Fatal(err)
	}
	e.SetURL(srv.URL)
	var out strings.Builder
	e.SetWriter(&out)
	if err := m.Do(context.Background(), e); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	// Output:
	// title=weekly report=report.csv (text/csv, example): all good
}
