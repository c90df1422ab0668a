package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// slowReader gives n chunks of size bytes, sleeping before each.
type slowReader struct {
	n, size int
	delay   time.Duration
	sent    int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.sent == r.n {
		return 0, io.EOF
	}
	time.Sleep(r.delay)
	k := min(len(p), r.size)
	for i := range k {
		p[i] = byte('0' + r.sent%10)
	}
	r.sent++
	return k, nil
}

func (r *slowReader) want() string {
	var b strings.Builder
	for i := range r.n {
		b.WriteString(strings.Repeat(string(rune('0'+i%10)), r.size))
	}
	return b.String()
}

// formServer parses multipart forms and answers with a summary of each
// part: name, filename, content type, X-Part header, length and content.
func formServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hello" {
			io.WriteString(w, "hello")
			return
		}
		posts.Add(1)
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var lines []string
		for k, vs := range r.MultipartForm.Value {
			for _, v := range vs {
				lines = append(lines, fmt.Sprintf("value %s=%q", k, v))
			}
		}
		for k, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				f, err := fh.Open()
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				b, _ := io.ReadAll(f)
				f.Close()
				lines = append(lines, fmt.Sprintf("file %s name=%q type=%q x-part=%q len=%d %q", k, fh.Filename, fh.Header.Get("Content-Type"), fh.Header.Get("X-Part"), len(b), b))
			}
		}
		sort.Strings(lines)
		io.WriteString(w, strings.Join(lines, "\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &posts
}

func TestMIMEForm(t *testing.T) {
	checkLeaks(t)
	srv, posts := formServer(t)
	m := newMulti(t)
	path := filepath.Join(t.TempDir(), "notes.txt")
	must(t, os.WriteFile(path, []byte("file content\n"), 0o644))
	slow := &slowReader{n: 8, size: 500, delay: 60 * time.Millisecond}
	sized := &slowReader{n: 2, size: 3, delay: 10 * time.Millisecond}

	form := curlpoll.NewMIME()
	form.AddBytes("greeting", []byte("hello, form"))
	form.AddBytes("empty", nil)
	form.AddFile("upload", path).SetContentType("text/plain").SetHeaders([]string{"X-Part: file"})
	form.AddReader("slow", slow, -1).SetFilename("slow.bin").SetContentType("application/octet-stream").SetHeaders([]string{"X-Part: slow"})
	form.AddReader("sized", sized, 6).SetFilename("sized.txt")

	e := newEasy(t, srv.URL+"/form")
	must(t, e.SetMIMEPost(form))
	var body bytes.Buffer
	must(t, e.SetWriter(&body))

	// While the slow part's reader sleeps, other transfers on the Multi run.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	tr, err := m.Start(ctx, e)
	must(t, err)
	quick := newEasy(t, srv.URL+"/hello")
	for range 3 {
		t0 := time.Now()
		must(t, m.Do(ctx, quick))
		if d := time.Since(t0); d > 300*time.Millisecond {
			t.Errorf("a small GET beside the slow form took %v", d)
		}
	}
	if _, err := tr.WriteTo(&body); err != nil {
		t.Fatalf("form post: %v (%s)", err, body.String())
	}
	tr.Close()
	if el := time.Since(start); el < 8*60*time.Millisecond {
		t.Errorf("the form went out in %v, faster than its slow part can be read", el)
	}
	code, _ := e.ResponseCode()
	want := strings.Join([]string{
		fmt.Sprintf("file sized name=%q type=%q x-part=%q len=6 %q", "sized.txt", "text/plain", "", sized.want()), // libcurl's type for a .txt filename
		fmt.Sprintf("file slow name=%q type=%q x-part=%q len=%d %q", "slow.bin", "application/octet-stream", "slow", 8*500, slow.want()),
		fmt.Sprintf("file upload name=%q type=%q x-part=%q len=13 %q", "notes.txt", "text/plain", "file", "file content\n"),
		`value empty=""`,
		`value greeting="hello, form"`,
	}, "\n")
	if code != 200 || body.String() != want {
		t.Fatalf("status %d, the server parsed:\n%s\nwant:\n%s", code, body.String(), want)
	}

	// The readers are spent: the form is not sent again.
	body.Reset()
	if err := m.Do(ctx, e); !errors.Is(err, curlpoll.ErrMIMEReaderUsed) {
		t.Errorf("second post of a form with reader parts: %v, want ErrMIMEReaderUsed", err)
	}
	// A form of bytes and files alone can be sent again.
	again := curlpoll.NewMIME()
	again.AddBytes("greeting", []byte("again"))
	must(t, e.SetMIMEPost(again))
	for range 2 {
		body.Reset()
		if err := m.Do(ctx, e); err != nil || body.String() != `value greeting="again"` {
			t.Errorf("repeated form: %q, %v", body.String(), err)
		}
	}
	if n := posts.Load(); n != 3 {
		t.Errorf("%d posts reached the server, want 3", n)
	}
	must(t, e.SetMIMEPost(nil))

	// A reader part's callback handle lives as long as the form: freed when
	// the form is replaced, by Reset and by Close.
	for _, drop := range []func() error{
		func() error { return e.SetMIMEPost(nil) },
		e.Reset,
	} {
		before := curlpoll.LiveCounts().Handles
		form := curlpoll.NewMIME()
		form.AddReader("r", strings.NewReader("x"), 1)
		must(t, e.SetMIMEPost(form))
		if n := curlpoll.LiveCounts().Handles; n != before+1 {
			t.Errorf("handles with a reader part set: %d, want %d", n, before+1)
		}
		must(t, drop())
		if n := curlpoll.LiveCounts().Handles; n != before {
			t.Errorf("handles after the form is dropped: %d, want %d", n, before)
		}
	}
}

func TestMIMEBadParts(t *testing.T) {
	checkLeaks(t)
	srv, posts := formServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL+"/form")
	var ie *curlpoll.InputError
	for _, f := range []func(*curlpoll.MIME){
		func(f *curlpoll.MIME) { f.AddBytes("a\r\nX-Evil: 1", nil) },
		func(f *curlpoll.MIME) { f.AddBytes("a", nil).SetFilename("x\n") },
		func(f *curlpoll.MIME) { f.AddBytes("a", nil).SetContentType("text/plain\r\nX: y") },
		func(f *curlpoll.MIME) { f.AddBytes("a", nil).SetHeaders([]string{"X: 1\r\nY: 2"}) },
	} {
		form := curlpoll.NewMIME()
		f(form)
		if err := e.SetMIMEPost(form); !errors.As(err, &ie) {
			t.Errorf("bad part: %v, want an InputError", err)
		}
	}
	form := curlpoll.NewMIME()
	form.AddFile("f", filepath.Join(t.TempDir(), "missing"))
	if err := e.SetMIMEPost(form); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}

	// A reader that ends short of its size fails the transfer.
	form = curlpoll.NewMIME()
	form.AddReader("short", strings.NewReader("abc"), 10)
	must(t, e.SetMIMEPost(form))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Do(ctx, e); err == nil || !strings.Contains(err.Error(), "not the 10 bytes") {
		t.Errorf("short reader: %v", err)
	}
	// A reader that fails fails the transfer with its error.
	boom := errors.New("boom")
	form = curlpoll.NewMIME()
	form.AddReader("bad", io.MultiReader(strings.NewReader("abc"), errReader{boom}), -1)
	must(t, e.SetMIMEPost(form))
	if err := m.Do(ctx, e); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v, want boom", err)
	}
	_ = posts
}

// TestMIMEReaderPauseOnReusedConnection: a reader part whose data comes
// just after libcurl asked for it, on a reused connection, 100 times. On
// libcurl 7.88 the part stayed paused for good when the resume found no
// pause recorded (see mimeState.unpause).
func TestMIMEReaderPauseOnReusedConnection(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	t.Cleanup(srv.Close)
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	for i := range 100 {
		form := curlpoll.NewMIME()
		form.AddBytes("title", []byte("weekly"))
		form.AddReader("report", strings.NewReader("all good"), -1).SetFilename("r.csv")
		must(t, e.SetMIMEPost(form))
		var body bytes.Buffer
		must(t, e.SetWriter(&body))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if err != nil || body.Len() == 0 {
			t.Fatalf("post %d: %q, %v", i, body.String(), err)
		}
	}
	if n, _ := e.NumConnects(); n != 0 {
		t.Errorf("the last post made %d new connections, want 0 (reuse)", n)
	}
}
