package testservers

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// SSH is an OpenSSH sshd serving SFTP on 127.0.0.1, with throwaway host and
// user keys.
type SSH struct {
	Addr          string // 127.0.0.1:port
	User          string // the account to log in as, with UserKey
	Dir           string // a directory the account may read and write
	UserKey       string // the private key file (no passphrase)
	UserPubKey    string // its public key file
	EncKey        string // another private key of User's, encrypted with EncKeyPass
	EncKeyPass    string
	KnownHosts    string // a known_hosts file with the server's host key
	WrongKnown    string // a known_hosts file with another key for the server
	HostKeySHA256 string // the host key's SHA-256 fingerprint, unpadded base64
	Log           string // sshd's log
}

// URL returns "sftp://user@" + the server's address + path (absolute).
func (s *SSH) URL(path string) string { return "sftp://" + s.User + "@" + s.Addr + path }

// StartSSH runs sshd (-D -e) with a configuration, host key and authorized
// key in a temporary directory, keys only, for the current user (root
// included, keys only). The system's sshd and its configuration are never
// used. It skips the test when sshd or ssh-keygen is missing.
func StartSSH(t testing.TB) *SSH {
	t.Helper()
	sshd := lookPath(t, "sshd", "openssh-server", "/usr/sbin")
	keygen := lookPath(t, "ssh-keygen", "openssh-client", "/usr/bin")
	s := &SSH{}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	s.User = u.Username
	// As root, sshd needs its privilege separation directory, /run/sshd,
	// which belongs to the system's sshd (and is missing while that one is
	// not running): the test's sshd runs in a mount namespace of its own,
	// with a private tmpfs on /run.
	var unshare string
	if os.Geteuid() == 0 {
		unshare = lookPath(t, "unshare", "util-linux", "/usr/bin")
	}
	// Not t.TempDir: its parent is private to the test's user.
	dir, err := os.MkdirTemp("", "curlpoll-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(dir, 0o755))
	s.Dir = filepath.Join(dir, "files")
	must(os.Mkdir(s.Dir, 0o777))
	must(os.Chmod(s.Dir, 0o777))
	keygenRun := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(keygen, args...).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen %v: %v: %s", args, err, out)
		}
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	otherKey := filepath.Join(dir, "other_ed25519")
	s.UserKey = filepath.Join(dir, "user_ed25519")
	s.UserPubKey = s.UserKey + ".pub"
	keygenRun("-q", "-t", "ed25519", "-N", "", "-C", "curlpoll host", "-f", hostKey)
	keygenRun("-q", "-t", "ed25519", "-N", "", "-C", "curlpoll other", "-f", otherKey)
	keygenRun("-q", "-t", "ed25519", "-N", "", "-C", "curlpoll user", "-f", s.UserKey)
	s.EncKey, s.EncKeyPass = filepath.Join(dir, "user_enc_ecdsa"), "curlpoll pass"
	keygenRun("-q", "-t", "ecdsa", "-m", "PEM", "-N", s.EncKeyPass, "-C", "curlpoll user enc", "-f", s.EncKey)
	pub, err := os.ReadFile(s.UserPubKey)
	must(err)
	encPub, err := os.ReadFile(s.EncKey + ".pub")
	must(err)
	pub = append(pub, encPub...)
	authorized := filepath.Join(dir, "authorized_keys")
	must(os.WriteFile(authorized, pub, 0o644))

	port := freePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	hostEntry := func(pubFile string) string {
		b, err := os.ReadFile(pubFile)
		must(err)
		f := strings.Fields(string(b))
		return fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])
	}
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	must(os.WriteFile(s.KnownHosts, []byte(hostEntry(hostKey+".pub")), 0o644))
	s.WrongKnown = filepath.Join(dir, "wrong_known_hosts")
	must(os.WriteFile(s.WrongKnown, []byte(hostEntry(otherKey+".pub")), 0o644))
	b, err := os.ReadFile(hostKey + ".pub")
	must(err)
	blob, err := base64.StdEncoding.DecodeString(strings.Fields(string(b))[1])
	must(err)
	sum := sha256.Sum256(blob)
	s.HostKeySHA256 = base64.RawStdEncoding.EncodeToString(sum[:])

	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
Subsystem sftp internal-sftp
LogLevel VERBOSE
`, port, hostKey, authorized, s.User)
	confPath := filepath.Join(dir, "sshd_config")
	must(os.WriteFile(confPath, []byte(conf), 0o644))
	s.Log = filepath.Join(dir, "sshd.log")
	cmd := exec.Command(sshd, "-D", "-e", "-f", confPath)
	if unshare != "" {
		if out, err := exec.Command(unshare, "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
			t.Skipf("sshd as root needs a mount namespace of its own (unshare: %v: %s)", err, out)
		}
		cmd = exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs curlpoll-sshd /run && mkdir -m 755 /run/sshd && exec "$0" "$@"`,
			sshd, "-D", "-e", "-f", confPath)
	}
	cmd.Dir = dir
	startDaemon(t, cmd, s.Log, func() error { return greets(s.Addr, "SSH-") })
	return s
}
