package curlhttp_test

import (
	"go/build"
	"testing"
)

// TestNoCgo: the Transport is built on the core's public API alone, with
// no cgo of its own (and so no C frame of its own for a panic to cross).
func TestNoCgo(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.CgoFiles) > 0 {
		t.Errorf("package curlhttp has cgo files: %v", pkg.CgoFiles)
	}
	for _, imp := range pkg.Imports {
		if imp == "C" {
			t.Error(`package curlhttp imports "C"`)
		}
	}
}
