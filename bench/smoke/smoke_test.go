// Package smoke checks that the benchmark programs build, start and finish
// on a tiny workload against a local server. It is the only part of the
// benchmark suite that runs with the tests; the timed comparison is
// bench/run.sh (make bench).
package smoke

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func build(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"../curlpoll-multi", "../curlpoll-transport", "../nethttp", "../report", "../slowserver", "../scale")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return
	}
	pc, err := exec.Command("pkg-config", "--cflags", "--libs", "libcurl").Output()
	if err != nil {
		t.Fatalf("pkg-config libcurl: %v", err)
	}
	args := append([]string{"-O2", "-Wall", "-o", filepath.Join(dir, "c-multisocket"), "../c-multisocket/main.c"}, strings.Fields(string(pc))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
}

// result runs a client and decodes its result line.
func result(t *testing.T, name string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: result %q: %v", filepath.Base(name), out, err)
	}
	return r
}

func TestClientsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	dir := t.TempDir()
	build(t, dir)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 100)) })
	plain := httptest.NewServer(h)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	clients := []string{"curlpoll-multi", "curlpoll-transport", "nethttp"}
	if _, err := os.Stat(filepath.Join(dir, "c-multisocket")); err == nil {
		clients = append(clients, "c-multisocket")
	}
	for _, c := range clients {
		bin := filepath.Join(dir, c)
		for _, args := range [][]string{
			{"-url", plain.URL + "/", "-n", "50", "-c", "4"},
			{"-url", tlsSrv.URL + "/", "-n", "50", "-c", "8", "-h2", "-cacert", ca},
		} {
			r := result(t, bin, args...)
			if r["requests"].(float64) != 50 || r["errors"].(float64) != 0 || r["bytes"].(float64) != 5000 {
				t.Errorf("%s %v: %v", c, args, r)
			}
		}
	}

	// The scale test's server and client, with a handful of transfers.
	srv := exec.Command(filepath.Join(dir, "slowserver"), "-addr", "127.0.0.1:0", "-hold", "30s")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	buf := make([]byte, 64)
	out.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(string(buf[:n]))
	for _, c := range []string{"curlpoll-multi", "curlpoll-transport", "nethttp"} {
		r := result(t, filepath.Join(dir, "scale"), "-client", c, "-url", "http://"+addr+"/", "-n", "10", "-ramp", "10s")
		if r["inflight"].(float64) != 10 {
			t.Errorf("scale %s: %v", c, r)
		}
	}
}
