package handshake_test

import (
	"net/url"
	"testing"

	"github.com/wsd-go/wsd/internal/handshake"
)

// RFC 6455 section 4.1: Sec-WebSocket-Protocol and Sec-WebSocket-Extensions
// are optional; with nothing to offer, the request carries neither, and
// nothing else beyond the required headers.
func TestAppendRequestMinimal(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	u, _ := url.Parse("ws://h")
	got := string(handshake.AppendRequest(nil, u, key, nil, "", nil))
	want := "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if got != want {
		t.Errorf("AppendRequest = %q, want %q", got, want)
	}
}
