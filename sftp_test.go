package curlpoll_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testservers"
)

// startSFTP starts sshd, or skips when libcurl has no SFTP.
func startSFTP(t *testing.T) *testservers.SSH {
	t.Helper()
	if !slices.Contains(curlpoll.Version().Protocols, "sftp") {
		t.Skip("this libcurl has no SFTP")
	}
	// libssh2 reports a socket it waits for as one libcurl's socket
	// callback names, and then reads nothing from it now and then: the
	// spin guard's case.
	allowSpins(t)
	return testservers.StartSSH(t)
}

// sftpEasy returns an Easy that logs in to srv with its user key.
func sftpEasy(t *testing.T, srv *testservers.SSH, url string) *curlpoll.Easy {
	e := newEasy(t, url)
	must(t, e.SetSSHAuthTypes(curlpoll.SSHAuthPublicKey))
	must(t, e.SetSSHPrivateKeyFile(srv.UserKey))
	must(t, e.SetSSHPublicKeyFile(srv.UserPubKey))
	return e
}

func doCtx(t *testing.T, m *curlpoll.Multi, e *curlpoll.Easy) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return m.Do(ctx, e)
}

func TestSFTPDownloadUpload(t *testing.T) {
	checkLeaks(t)
	srv := startSFTP(t)
	m := newMulti(t)
	want := bytes.Repeat([]byte("sftp data "), 60000)
	must(t, os.WriteFile(filepath.Join(srv.Dir, "down.bin"), want, 0o644))

	e := sftpEasy(t, srv, srv.URL(srv.Dir+"/down.bin"))
	must(t, e.SetSSHKnownHosts(srv.KnownHosts))
	var buf bytes.Buffer
	must(t, e.SetWriter(&buf))
	if err := doCtx(t, m, e); err != nil || !bytes.Equal(buf.Bytes(), want) {
		b, _ := os.ReadFile(srv.Log)
		t.Fatalf("download: %d bytes, %v; want %d bytes\nsshd: %s", buf.Len(), err, len(want), b)
	}

	// Upload on the same handle (and connection), into a new directory.
	body := bytes.Repeat([]byte("up"), 70000)
	must(t, e.SetURL(srv.URL(srv.Dir+"/new/up.bin")))
	must(t, e.SetUpload(true))
	must(t, e.SetFTPCreateMissingDirs(curlpoll.FTPCreateDir))
	must(t, e.SetReader(bytes.NewReader(body)))
	must(t, e.SetInFileSize(int64(len(body))))
	if err := doCtx(t, m, e); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "new/up.bin")); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("uploaded: %d bytes, %v", len(b), err)
	}
	// An SFTP quote command after the transfer.
	must(t, e.SetUpload(false))
	must(t, e.SetURL(srv.URL(srv.Dir+"/down.bin")))
	must(t, e.SetWriter(nil))
	must(t, e.SetPostQuote([]string{"rename " + srv.Dir + "/new/up.bin " + srv.Dir + "/new/renamed.bin"}))
	if err := doCtx(t, m, e); err != nil {
		t.Fatalf("post-quote rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "new/renamed.bin")); err != nil {
		t.Errorf("rename by post-quote: %v", err)
	}
}

func TestSFTPHostKeyChecks(t *testing.T) {
	checkLeaks(t)
	srv := startSFTP(t)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Dir, "k.txt"), []byte("key checked"), 0o644))
	url := srv.URL(srv.Dir + "/k.txt")

	get := func(set func(e *curlpoll.Easy) error) (string, error) {
		e := sftpEasy(t, srv, url)
		must(t, e.SetFreshConnect(true))
		must(t, set(e))
		var buf bytes.Buffer
		must(t, e.SetWriter(&buf))
		err := doCtx(t, m, e)
		return buf.String(), err
	}
	if got, err := get(func(e *curlpoll.Easy) error { return e.SetSSHKnownHosts(srv.KnownHosts) }); err != nil || got != "key checked" {
		t.Errorf("known host: %q, %v", got, err)
	}
	if _, err := get(func(e *curlpoll.Easy) error { return e.SetSSHKnownHosts(srv.WrongKnown) }); !errors.Is(err, curlpoll.Code(60)) { // CURLE_PEER_FAILED_VERIFICATION
		t.Errorf("another host key in known_hosts: %v, want CURLE_PEER_FAILED_VERIFICATION", err)
	}
	if !libcurlAtLeast(7, 80) {
		return
	}
	if got, err := get(func(e *curlpoll.Easy) error { return e.SetSSHHostPublicKeySHA256(srv.HostKeySHA256) }); err != nil || got != "key checked" {
		t.Errorf("host key SHA-256: %q, %v", got, err)
	}
	if got, err := get(func(e *curlpoll.Easy) error { return e.SetSSHHostPublicKeySHA256("SHA256:" + srv.HostKeySHA256 + "=") }); err != nil || got != "key checked" {
		t.Errorf("host key SHA-256 with prefix and padding: %q, %v", got, err)
	}
	wrong := []byte(srv.HostKeySHA256) // another key's: its first 6 bits differ
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	if _, err := get(func(e *curlpoll.Easy) error { return e.SetSSHHostPublicKeySHA256(string(wrong)) }); !errors.Is(err, curlpoll.Code(60)) {
		t.Errorf("another host key SHA-256: %v, want CURLE_PEER_FAILED_VERIFICATION", err)
	}
	var ie *curlpoll.InputError
	e := newEasy(t, url)
	if err := e.SetSSHHostPublicKeySHA256("not a fingerprint"); !errors.As(err, &ie) {
		t.Errorf("malformed SHA-256 fingerprint: %v, want an InputError", err)
	}
}

// TestSFTPKeyPassphrase: a private key encrypted with a passphrase, given
// with SetKeyPassword; a wrong passphrase fails the login.
func TestSFTPKeyPassphrase(t *testing.T) {
	checkLeaks(t)
	srv := startSFTP(t)
	m := newMulti(t)
	must(t, os.WriteFile(filepath.Join(srv.Dir, "p.txt"), []byte("passphrase"), 0o644))
	for _, c := range []struct {
		pass string
		ok   bool
	}{{srv.EncKeyPass, true}, {"wrong", false}} {
		e := newEasy(t, srv.URL(srv.Dir+"/p.txt"))
		must(t, e.SetSSHAuthTypes(curlpoll.SSHAuthPublicKey))
		must(t, e.SetSSHPrivateKeyFile(srv.EncKey))
		must(t, e.SetSSHPublicKeyFile(srv.EncKey+".pub"))
		must(t, e.SetKeyPassword(c.pass))
		must(t, e.SetSSHKnownHosts(srv.KnownHosts))
		must(t, e.SetFreshConnect(true))
		var buf bytes.Buffer
		must(t, e.SetWriter(&buf))
		err := doCtx(t, m, e)
		if c.ok && (err != nil || buf.String() != "passphrase") {
			t.Errorf("right passphrase: %q, %v", buf.String(), err)
		}
		if !c.ok && !errors.Is(err, curlpoll.Code(67)) { // CURLE_LOGIN_DENIED
			t.Errorf("wrong passphrase: %v, want CURLE_LOGIN_DENIED", err)
		}
	}
}
