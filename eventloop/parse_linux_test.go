//go:build linux

package eventloop

import (
	"bytes"
	"testing"
)

// refHeaderEnd is headerEnd written the plain way: the first empty line,
// ending in CRLF or LF, that follows a line end.
func refHeaderEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if bytes.HasPrefix(b[i+1:], []byte("\n")) {
			return i + 2
		}
		if bytes.HasPrefix(b[i+1:], []byte("\r\n")) {
			return i + 3
		}
	}
	return -1
}

// FuzzHeaderEnd checks that scanning a request as it arrives, in pieces,
// finds its end where a scan of the whole does.
func FuzzHeaderEnd(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\n"), uint8(3))
	f.Add([]byte("\r\n\r\n"), uint8(2))
	f.Add([]byte("a\n\r"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		want := refHeaderEnd(b)
		if got := headerEnd(b, 0); got != want {
			t.Fatalf("whole %q: %d, want %d", b, got, want)
		}
		// In pieces, resuming as parse does.
		n := int(step%16) + 1
		scanned := 0
		for end := n; ; end += n {
			end = min(end, len(b))
			got := headerEnd(b[:end], scanned)
			if got >= 0 {
				if got != want {
					t.Fatalf("in pieces of %d, %q: %d, want %d", n, b, got, want)
				}
				return
			}
			if want >= 0 && want <= end {
				t.Fatalf("in pieces of %d, %q: missed the end at %d", n, b, want)
			}
			scanned = max(0, end-3)
			if end == len(b) {
				return
			}
		}
	})
}
