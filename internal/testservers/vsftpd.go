package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FTP is a vsftpd serving anonymous FTP on 127.0.0.1, with uploads.
type FTP struct {
	Addr   string // 127.0.0.1:port
	Root   string // the anonymous root: files here are served at /
	Upload string // Root/upload, writable: uploads go to /upload/
	CAFile string // with TLS: the CA that signed the server's certificate
	Log    string // vsftpd's protocol log
}

// URL returns "ftp://" + the server's address + path (which starts with /).
func (s *FTP) URL(path string) string { return "ftp://" + s.Addr + path }

// StartFTP runs vsftpd in the foreground as root (it needs root to chroot
// anonymous sessions) with a configuration in a temporary directory, and
// kills it at the test's end. With tls, it offers explicit FTPS (AUTH TLS)
// with a throwaway certificate. It skips the test when vsftpd is missing or
// the test does not run as root.
func StartFTP(t testing.TB, tls bool) *FTP {
	t.Helper()
	bin := lookPath(t, "vsftpd", "vsftpd", "/usr/sbin")
	if os.Geteuid() != 0 {
		t.Skip("vsftpd runs anonymous sessions in a chroot, which needs root")
	}
	dir := t.TempDir()
	s := &FTP{Root: filepath.Join(dir, "root"), Log: filepath.Join(dir, "vsftpd.log")}
	s.Upload = filepath.Join(s.Root, "upload")
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{s.Root, s.Upload, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The anonymous session runs as the ftp user, inside the chroot.
	if err := os.Chmod(s.Upload, 0o777); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=%s
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_world_readable_only=NO
anon_umask=022
allow_writeable_chroot=YES
secure_chroot_dir=%s
pasv_enable=YES
pasv_address=127.0.0.1
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
max_clients=0
max_per_ip=0
idle_session_timeout=120
data_connection_timeout=60
xferlog_enable=YES
xferlog_std_format=NO
dual_log_enable=NO
syslog_enable=NO
vsftpd_log_file=%s
log_ftp_protocol=YES
`, port, s.Root, empty, s.Log)
	if tls {
		var cert, key string
		s.CAFile, cert, key = writeCerts(t, dir)
		conf += fmt.Sprintf(`ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=NO
require_ssl_reuse=NO
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
rsa_cert_file=%s
rsa_private_key_file=%s
`, cert, key)
	}
	confPath := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, exec.Command(bin, confPath), filepath.Join(dir, "vsftpd.out"), func() error {
		return greets(s.Addr, "220")
	})
	return s
}
