package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testservers"
)

// ftpGet downloads url on m with e and returns the body.
func ftpGet(t testing.TB, m *curlpoll.Multi, e *curlpoll.Easy, url string) ([]byte, error) {
	t.Helper()
	must(t, e.SetURL(url))
	var buf bytes.Buffer
	must(t, e.SetWriter(&buf))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := m.Do(ctx, e)
	return buf.Bytes(), err
}

// logHas reports whether vsftpd's protocol log holds s.
func logHas(t testing.TB, srv *testservers.FTP, s string) bool {
	b, err := os.ReadFile(srv.Log)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

func TestFTPDownloadUploadList(t *testing.T) {
	// libcurl 7.88 stalls FTP transfers on reused control connections, and
	// explicit FTPS ones, until the driver's stall rescue runs them.
	allowRescues(t)
	checkLeaks(t)
	srv := testservers.StartFTP(t, false)
	m := newMulti(t)
	want := bytes.Repeat([]byte("curlpoll ftp "), 100000) // 1.3 MB: many reads, pauses
	must(t, os.WriteFile(filepath.Join(srv.Root, "big.bin"), want, 0o644))

	e := newEasy(t, srv.URL("/big.bin"))
	got, err := ftpGet(t, m, e, srv.URL("/big.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("download: %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}

	// Upload into a directory that does not exist yet.
	body := bytes.Repeat([]byte("up"), 50000)
	must(t, e.Reset())
	must(t, e.SetURL(srv.URL("/upload/new/dir/up.bin")))
	must(t, e.SetUpload(true))
	must(t, e.SetReader(bytes.NewReader(body)))
	must(t, e.SetInFileSize(int64(len(body))))
	must(t, e.SetFTPCreateMissingDirs(curlpoll.FTPCreateDir))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Do(ctx, e); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Upload, "new/dir/up.bin")); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("uploaded file: %d bytes, %v; want %d bytes", len(b), err, len(body))
	}

	// A names-only listing (NLST) of the root.
	must(t, e.Reset())
	must(t, e.SetDirListOnly(true))
	got, err = ftpGet(t, m, e, srv.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(got))
	sort.Strings(names)
	if strings.Join(names, " ") != "big.bin upload" {
		t.Errorf("NLST: %q", got)
	}
	if !logHas(t, srv, `"NLST"`) {
		t.Error("no NLST in the server's log")
	}
	// A full listing (LIST) has attributes.
	must(t, e.SetDirListOnly(false))
	got, err = ftpGet(t, m, e, srv.URL("/upload/"))
	if err != nil || !bytes.Contains(got, []byte("new")) || !bytes.HasPrefix(got, []byte("d")) {
		t.Errorf("LIST: %q, %v", got, err)
	}
}

func TestFTPQuote(t *testing.T) {
	// libcurl 7.88 stalls FTP transfers on reused control connections, and
	// explicit FTPS ones, until the driver's stall rescue runs them.
	allowRescues(t)
	checkLeaks(t)
	srv := testservers.StartFTP(t, false)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Root, "f.txt"), []byte("quoted"), 0o644))
	e := newEasy(t, "")
	must(t, e.SetQuote([]string{"MKD /upload/before"}))
	must(t, e.SetPostQuote([]string{"MKD /upload/after"}))
	if got, err := ftpGet(t, m, e, srv.URL("/f.txt")); err != nil || string(got) != "quoted" {
		t.Fatalf("download with quotes: %q, %v", got, err)
	}
	for _, d := range []string{"before", "after"} {
		if fi, err := os.Stat(filepath.Join(srv.Upload, d)); err != nil || !fi.IsDir() {
			t.Errorf("directory %s made by a quote command: %v", d, err)
		}
	}

	// A quote command that fails fails the transfer, unless it starts with *.
	must(t, e.SetQuote([]string{"DELE /no-such-file"}))
	must(t, e.SetPostQuote(nil))
	if _, err := ftpGet(t, m, e, srv.URL("/f.txt")); !errors.Is(err, curlpoll.Code(21)) { // CURLE_QUOTE_ERROR
		t.Errorf("failing quote: err %v, want CURLE_QUOTE_ERROR", err)
	}
	must(t, e.SetQuote([]string{"*DELE /no-such-file"}))
	if got, err := ftpGet(t, m, e, srv.URL("/f.txt")); err != nil || string(got) != "quoted" {
		t.Errorf("ignored failing quote: %q, %v", got, err)
	}

	// A command that would smuggle in another is refused, and the list
	// set before stays.
	err := e.SetQuote([]string{"NOOP\r\nDELE /f.txt"})
	var ie *curlpoll.InputError
	if !errors.As(err, &ie) {
		t.Errorf("command with CRLF: %v, want an InputError", err)
	}
	for _, set := range []func() error{
		func() error { return e.SetPostQuote([]string{"A\nB"}) },
		func() error { return e.SetPreQuote([]string{"A\rB"}) },
		func() error { return e.SetFTPPort("127.0.0.1\r\nDELE x") },
	} {
		if err := set(); !errors.As(err, &ie) {
			t.Errorf("value with CR or LF: %v, want an InputError", err)
		}
	}
}

func TestFTPModes(t *testing.T) {
	// libcurl 7.88 stalls FTP transfers on reused control connections, and
	// explicit FTPS ones, until the driver's stall rescue runs them.
	allowRescues(t)
	checkLeaks(t)
	srv := testservers.StartFTP(t, false)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Root, "m.txt"), []byte("modes"), 0o644))
	for _, c := range []struct {
		name  string
		set   func(e *curlpoll.Easy) error
		inLog string
	}{
		{"EPSV", func(e *curlpoll.Easy) error { return nil }, `"EPSV"`},
		{"PASV", func(e *curlpoll.Easy) error { return e.SetFTPUseEPSV(false) }, `"PASV"`},
		{"EPRT", func(e *curlpoll.Easy) error { return e.SetFTPPort("127.0.0.1") }, `"EPRT |1|127.0.0.1|`},
		{"PORT", func(e *curlpoll.Easy) error {
			if err := e.SetFTPPort("127.0.0.1"); err != nil {
				return err
			}
			return e.SetFTPUseEPRT(false)
		}, `"PORT 127,0,0,1,`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEasy(t, "")
			must(t, e.SetForbidReuse(true)) // one session per mode, for the log
			must(t, c.set(e))
			if got, err := ftpGet(t, m, e, srv.URL("/m.txt")); err != nil || string(got) != "modes" {
				t.Fatalf("download: %q, %v", got, err)
			}
			if !logHas(t, srv, c.inLog) {
				t.Errorf("no %s in the server's log:\n%s", c.inLog, logTail(srv))
			}
		})
	}
}

func logTail(srv *testservers.FTP) string {
	b, _ := os.ReadFile(srv.Log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func TestFTPSExplicit(t *testing.T) {
	// libcurl 7.88 stalls FTP transfers on reused control connections, and
	// explicit FTPS ones, until the driver's stall rescue runs them.
	allowRescues(t)
	checkLeaks(t)
	srv := testservers.StartFTP(t, true)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Root, "s.txt"), []byte("secret"), 0o644))

	for _, level := range []curlpoll.UseSSL{curlpoll.UseSSLAll, curlpoll.UseSSLControl} {
		e := newEasy(t, "")
		must(t, e.SetUseSSL(level))
		must(t, e.SetCAInfo(srv.CAFile))
		if got, err := ftpGet(t, m, e, srv.URL("/s.txt")); err != nil || string(got) != "secret" {
			t.Fatalf("FTPS (USE_SSL %d) download: %q, %v", level, got, err)
		}
		// Upload on the same, reused, session.
		must(t, e.SetURL(srv.URL("/upload/s-up.txt")))
		must(t, e.SetUpload(true))
		must(t, e.SetReader(strings.NewReader("up over tls")))
		must(t, e.SetInFileSize(11))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if b, _ := os.ReadFile(filepath.Join(srv.Upload, "s-up.txt")); err != nil || string(b) != "up over tls" {
			t.Fatalf("FTPS upload: %q, %v", b, err)
		}
	}
	if !logHas(t, srv, `"AUTH `) {
		t.Error("no AUTH command in the server's log")
	}

	// The certificate is verified: without the CA the transfer fails. A
	// Multi of its own: libcurl (8.14.1 too) reuses an FTP connection that
	// went over to TLS for a transfer with other CA settings, checking only
	// that it asks for TLS as well.
	m = newMulti(t)
	e := newEasy(t, "")
	must(t, e.SetUseSSL(curlpoll.UseSSLAll))
	if _, err := ftpGet(t, m, e, srv.URL("/s.txt")); !errors.Is(err, curlpoll.ErrPeerFailedVerification) {
		t.Errorf("FTPS with an unknown CA: %v, want ErrPeerFailedVerification", err)
	}
	// The server refuses anonymous logins in plain text.
	e = newEasy(t, "")
	if _, err := ftpGet(t, m, e, srv.URL("/s.txt")); err == nil {
		t.Error("plain FTP to a server that requires TLS succeeded")
	}
}

// TestFTPUseSSLRefused: a server without TLS fails a transfer that requires
// it (CURLE_USE_SSL_FAILED) before the login is sent in plain text.
func TestFTPUseSSLRefused(t *testing.T) {
	checkLeaks(t)
	srv := testservers.StartFTP(t, false)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Root, "p.txt"), []byte("plain"), 0o644))
	e := newEasy(t, "")
	must(t, e.SetUseSSL(curlpoll.UseSSLControl))
	if _, err := ftpGet(t, m, e, srv.URL("/p.txt")); !errors.Is(err, curlpoll.Code(64)) { // CURLE_USE_SSL_FAILED
		t.Errorf("USE_SSL against a plain server: %v, want CURLE_USE_SSL_FAILED", err)
	}
	if logHas(t, srv, `"USER`) {
		t.Errorf("the login went out in plain text:\n%s", logTail(srv))
	}
}

// TestFTPManyOnReusedConnections: 200 downloads over a few reused control
// connections all complete. On libcurl 7.88.1 some of them used to hang
// after "229 Entering Extended Passive Mode", libcurl asking for neither a
// socket nor a timeout.
func TestFTPManyOnReusedConnections(t *testing.T) {
	// libcurl 7.88 stalls FTP transfers on reused control connections, and
	// explicit FTPS ones, until the driver's stall rescue runs them.
	allowRescues(t)
	checkLeaks(t)
	srv := testservers.StartFTP(t, false)
	m := newMulti(t)
	const files, total, workers = 10, 200, 4
	for i := range files {
		must(t, os.WriteFile(filepath.Join(srv.Root, fmt.Sprintf("f%d", i)), bytes.Repeat([]byte{byte('a' + i)}, 1000+i*700), 0o644))
	}
	start := time.Now()
	loop, cancelLoop := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelLoop()
	var next, stalled, failed atomic.Int64
	var wg sync.WaitGroup
	var firstErr sync.Once
	var errMsg string
	for range workers {
		e := newEasy(t, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loop.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				k := int(i % files)
				must(t, e.SetURL(srv.URL(fmt.Sprintf("/f%d", k))))
				var buf bytes.Buffer
				must(t, e.SetWriter(&buf))
				ctx, cancel := context.WithTimeout(loop, 20*time.Second)
				err := m.Do(ctx, e)
				cancel()
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					stalled.Add(1)
				case err != nil || buf.Len() != 1000+k*700:
					failed.Add(1)
					firstErr.Do(func() { errMsg = fmt.Sprintf("transfer %d: %d bytes, %v", i, buf.Len(), err) })
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	s, _ := m.Stats()
	b, err := os.ReadFile(srv.Log)
	must(t, err)
	connects := bytes.Count(b, []byte("] CONNECT: ")) - 1 // StartFTP's probe
	t.Logf("%d FTP downloads on %d workers in %v: %d stalled, %d failed, %d control connections; driver: %d timeout actions, %d socket actions, %d stall rescues",
		min(next.Load(), total), workers, el.Round(time.Millisecond), stalled.Load(), failed.Load(), connects, s.ActionTimeout, s.ActionSocket, s.Rescues)
	if stalled.Load() > 0 || failed.Load() > 0 || next.Load() < total {
		t.Errorf("%d stalled, %d failed of %d (%s)", stalled.Load(), failed.Load(), total, errMsg)
	}
	if connects > workers {
		t.Errorf("%d control connections for %d transfers on %d Easy handles: the connections were not reused", connects, total, workers)
	}
}

// TestProtocolNotAllowed: a URL whose scheme the caller's list excludes
// fails before connecting.
func TestProtocolNotAllowed(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	m := newMulti(t)
	for _, scheme := range []string{"ftp", "sftp", "smtp", "ftps"} {
		e := newEasy(t, scheme+"://"+ln.Addr().String()+"/x")
		must(t, e.SetProtocols("http,https"))
		must(t, e.SetMailRecipients([]string{"<a@example.com>"}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if !errors.Is(err, curlpoll.ErrUnsupportedProtocol) {
			t.Errorf("%s with protocols http,https: %v, want ErrUnsupportedProtocol", scheme, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached the server", n)
	}
}
