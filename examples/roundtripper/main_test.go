package main

import (
	"context"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-demo"}, &out); err != nil {
		t.Fatal(err, out.String())
	}
	s := out.String()
	for _, want := range []string{"/hello: HTTP/1.1 200 OK, 40 bytes", "/redirect: HTTP/1.1 200 OK", " from ", "(gzip decoded)"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
