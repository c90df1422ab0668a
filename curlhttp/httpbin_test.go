package curlhttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// httpbinClient starts go-httpbin and returns a client on a curlpoll
// Transport; both are closed at the end of the test.
func httpbinClient(t *testing.T) (*http.Client, string, *curlhttp.Transport) {
	t.Helper()
	srv := httptest.NewServer(httpbin.New().Handler())
	tr := &curlhttp.Transport{}
	t.Cleanup(func() {
		tr.Close()
		srv.Close()
	})
	return &http.Client{Transport: tr}, srv.URL, tr
}

func getJSON(t *testing.T, c *http.Client, url string, v any) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp
}

func TestHTTPBin(t *testing.T) {
	c, base, _ := httpbinClient(t)

	t.Run("redirects via http.Client", func(t *testing.T) {
		for _, path := range []string{"/redirect/3", "/absolute-redirect/3", "/relative-redirect/2", "/redirect-to?url=/get"} {
			resp, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Request.URL.Path != "/get" {
				t.Errorf("%s: %d at %s", path, resp.StatusCode, resp.Request.URL)
			}
		}
		noFollow := &http.Client{Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
		resp, err := noFollow.Get(base + "/redirect/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 || resp.Header.Get("Location") == "" {
			t.Errorf("curl followed the redirect itself: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("post redirect 307 replays body", func(t *testing.T) {
		resp, err := c.Post(base+"/redirect-to?url=/post&status_code=307", "text/plain", strings.NewReader("again"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct{ Data string }
		json.NewDecoder(resp.Body).Decode(&v)
		if v.Data != "again" {
			t.Errorf("body after 307: %q", v.Data)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		var v struct{ Gzipped bool }
		resp := getJSON(t, c, base+"/gzip", &v)
		if !v.Gzipped || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 {
			t.Errorf("gzipped=%v uncompressed=%v header=%v cl=%d", v.Gzipped, resp.Uncompressed, resp.Header, resp.ContentLength)
		}
	})

	t.Run("trailers", func(t *testing.T) {
		resp, err := c.Get(base + "/trailers?X-One=1&X-Two=a&X-Two=b")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := resp.Trailer["X-One"]; !ok {
			t.Errorf("announced trailers: %v", resp.Trailer)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Trailer.Get("X-One") != "1" || resp.Trailer.Get("X-Two") != "b" {
			t.Errorf("trailers: %v", resp.Trailer)
		}
	})

	t.Run("status codes", func(t *testing.T) {
		for _, code := range []int{200, 201, 204, 400, 404, 418, 500, 503} {
			resp, err := c.Get(base + "/status/" + itoa(code))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("got %d, want %d", resp.StatusCode, code)
			}
		}
	})

	t.Run("headers", func(t *testing.T) {
		req := mustReq("GET", base+"/headers", nil)
		req.Header.Add("X-Multi", "a")
		req.Header.Add("X-Multi", "b")
		var v struct{ Headers map[string][]string }
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if got := strings.Join(v.Headers["X-Multi"], ","); got != "a,b" {
			t.Errorf("X-Multi: %q", got)
		}
		if _, ok := v.Headers["Accept"]; ok {
			t.Errorf("curl's Accept leaked: %v", v.Headers)
		}
		if got := v.Headers["User-Agent"]; len(got) != 1 || got[0] != "Go-http-client/1.1" {
			t.Errorf("User-Agent: %v", got)
		}

		resp, err = c.Get(base + "/response-headers?X-A=1&X-A=2&X-B=b")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("X-A"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
			t.Errorf("X-A: %v", got)
		}
	})

	t.Run("cookies via jar", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		jc := &http.Client{Transport: c.Transport, Jar: jar}
		var v struct{ Cookies map[string]string }
		getJSON(t, jc, base+"/cookies/set?k=v", &v)
		if v.Cookies["k"] != "v" {
			t.Errorf("cookies: %v", v)
		}
	})

	t.Run("streaming", func(t *testing.T) {
		resp, err := c.Get(base + "/stream/20")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); n++ {
		}
		if n != 20 || resp.ContentLength != -1 {
			t.Errorf("%d lines, cl=%d", n, resp.ContentLength)
		}
	})

	t.Run("bytes", func(t *testing.T) {
		for _, p := range []string{"/bytes/100000", "/stream-bytes/300000?chunk_size=7000"} {
			resp, err := c.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || (n != 100000 && n != 300000) {
				t.Errorf("%s: %d bytes, %v", p, n, err)
			}
		}
	})

	t.Run("drip", func(t *testing.T) {
		start := time.Now()
		resp, err := c.Get(base + "/drip?duration=0.3&numbytes=6&delay=0&code=200")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 6 || time.Since(start) < 200*time.Millisecond {
			t.Errorf("%q %v after %v", b, err, time.Since(start))
		}
	})

	t.Run("delay vs context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/delay/2", nil)
		start := time.Now()
		_, err := c.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
		if time.Since(start) > time.Second {
			t.Errorf("took %v", time.Since(start))
		}
	})

	t.Run("delay vs client timeout", func(t *testing.T) {
		tc := &http.Client{Transport: c.Transport, Timeout: 150 * time.Millisecond}
		_, err := tc.Get(base + "/delay/2")
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("delay completes", func(t *testing.T) {
		var v map[string]any
		getJSON(t, c, base+"/delay/0.2", &v)
	})

	t.Run("methods with bodies", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			req := mustReq(m, base+"/"+strings.ToLower(m), strings.NewReader("payload"))
			req.Header.Set("Content-Type", "text/plain")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Data string }
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if v.Data != "payload" {
				t.Errorf("%s: data %q", m, v.Data)
			}
		}
	})
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
