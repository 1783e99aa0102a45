//go:build !js

package wsd_test

import (
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
)

func copyAndClose(dst net.Conn, src io.Reader) {
	io.Copy(dst, src)
	dst.Close()
}

// TestMigratingGuide checks that every wsd snippet of docs/migrating.md is
// code of migrate_example_test.go, so that the guide shows code that
// compiles.
func TestMigratingGuide(t *testing.T) {
	doc, err := os.ReadFile("docs/migrating.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("migrate_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	normalize := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	code := normalize(string(src))
	blocks := regexp.MustCompile("(?s)<!-- wsd -->\n```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 8 {
		t.Fatalf("found %d wsd snippets in docs/migrating.md, want at least 8", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(code, normalize(b[1])) {
			t.Errorf("this snippet of docs/migrating.md is not in migrate_example_test.go:\n%s", b[1])
		}
	}
}
