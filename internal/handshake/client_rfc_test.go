package handshake_test

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wsd-go/wsd/internal/handshake"
)

// The client's opening handshake, RFC 6455 section 4.1, as the bytes on
// the wire. These complement the tests of the server side and of the
// header helpers.

const rfcKey = "dGhlIHNhbXBsZSBub25jZQ==" // the key of section 1.3
const rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

func TestAppendRequestBytes(t *testing.T) {
	u, _ := url.Parse("ws://server.example.com/chat?x=1")
	extra := http.Header{
		"Origin":                 {"http://example.com"},
		"X-B":                    {"2"},
		"X-A":                    {"1", "1b"},
		"Upgrade":                {"h2c"},  // never overrides the handshake
		"Sec-Websocket-Key":      {"evil"}, // nor this
		"sec-websocket-version":  {"8"},
		"Sec-WebSocket-Protocol": {"evil"},
		"X-Crlf":                 {"a\r\nInjected: 1"},
		"Bad Name":               {"v"},
	}
	got := string(handshake.AppendRequest([]byte("pre"), u, rfcKey, []string{"chat", "superchat"}, "permessage-deflate", extra))
	const want = "pre" +
		"GET /chat?x=1 HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + rfcKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate\r\n" +
		"Origin: http://example.com\r\n" +
		"X-A: 1\r\n" +
		"X-A: 1b\r\n" +
		"X-B: 2\r\n" +
		"\r\n"
	if got != want {
		t.Fatalf("AppendRequest =\n%q\nwant\n%q", got, want)
	}
	// A server reads it as a valid handshake.
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(got[3:])))
	if err != nil {
		t.Fatal(err)
	}
	key, herr := handshake.CheckRequest(r)
	if herr != nil || key != rfcKey {
		t.Fatalf("CheckRequest of our own request = %q, %v", key, herr)
	}
	if p := handshake.SelectProtocol(handshake.Tokens(r.Header, "Sec-WebSocket-Protocol"), []string{"superchat", "chat"}); p != "chat" {
		t.Errorf("server would pick %q, want the client's first choice \"chat\"", p)
	}
}

func TestAppendRequestMinimal(t *testing.T) {
	u, _ := url.Parse("ws://h")
	got := string(handshake.AppendRequest(nil, u, rfcKey, nil, "", nil))
	want := "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if got != want {
		t.Errorf("AppendRequest = %q, want %q", got, want)
	}
}

// Section 4.1: the Host header field and the Request-URI.
func TestAppendRequestHostAndURI(t *testing.T) {
	tests := []struct {
		url, host, uri string
		extra          http.Header
	}{
		{"ws://example.com", "example.com", "/", nil},
		{"ws://example.com:80/", "example.com", "/", nil},
		{"ws://example.com:443/", "example.com:443", "/", nil},
		{"wss://example.com:443/", "example.com", "/", nil},
		{"wss://example.com:80/", "example.com:80", "/", nil},
		{"ws://example.com:8080/a/b", "example.com:8080", "/a/b", nil},
		{"ws://example.com:/", "example.com", "/", nil},
		{"ws://127.0.0.1:9000/x", "127.0.0.1:9000", "/x", nil},
		{"ws://[::1]:80/", "[::1]", "/", nil},
		{"ws://[::1]:81/", "[::1]:81", "/", nil},
		{"ws://h/a%20b?q=1&r=%2F", "h", "/a%20b?q=1&r=%2F", nil},
		{"ws://h/?", "h", "/?", nil},
		{"ws://h:1/", "virtual.example", "/", http.Header{"Host": {"virtual.example"}}},
		{"ws://h:1/", "virtual.example", "/", http.Header{"host": {"virtual.example"}}},
		{"ws://h:1/", "h:1", "/", http.Header{"Host": {"bad\r\nX: 1"}}},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		raw := string(handshake.AppendRequest(nil, u, rfcKey, nil, "", tt.extra))
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Errorf("%s: request does not parse: %v\n%q", tt.url, err, raw)
			continue
		}
		if r.Host != tt.host || r.RequestURI != tt.uri || r.Method != "GET" || r.Proto != "HTTP/1.1" {
			t.Errorf("%s: %s %s %s, Host %q; want GET %s HTTP/1.1, Host %q", tt.url, r.Method, r.RequestURI, r.Proto, r.Host, tt.uri, tt.host)
		}
		if n := strings.Count(strings.ToLower(raw), "\r\nhost:"); n != 1 {
			t.Errorf("%s: %d Host headers, want 1", tt.url, n)
		}
	}
}

// Section 4.1: the key is 16 random bytes, base64-encoded, new for each
// connection.
func TestNewKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k := handshake.NewKey()
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 16 || len(k) != 24 {
			t.Fatalf("NewKey() = %q: decodes to %d bytes, err %v; want 16 bytes", k, len(b), err)
		}
		if seen[k] {
			t.Fatalf("NewKey() repeated %q", k)
		}
		seen[k] = true
	}
}

func readResponse(t *testing.T, lines ...string) *http.Response {
	t.Helper()
	raw := strings.Join(lines, "\r\n") + "\r\n\r\n"
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("ReadResponse(%q): %v", raw, err)
	}
	return resp
}

// Section 4.1, the client's checks of the server's handshake, points 1
// to 6: each failure names the header and what was wrong.
func TestCheckResponseRFC(t *testing.T) {
	ok := []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + rfcAccept}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	without := func(name string, extra ...string) []string {
		var out []string
		for _, l := range ok {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return append(out, extra...)
	}
	tests := []struct {
		name     string
		lines    []string
		offered  []string
		protocol string
		err      string // exact Error(), "" for success
		status   int
		header   string
	}{
		{name: "ok", lines: ok},
		{name: "case-insensitive tokens", lines: []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: WebSocket", "Connection: keep-alive, UPGRADE", "Sec-WebSocket-Accept: " + rfcAccept}},
		{name: "protocol chosen", lines: with("Sec-WebSocket-Protocol: chat"), offered: []string{"superchat", "chat"}, protocol: "chat"},
		{name: "no protocol chosen", lines: ok, offered: []string{"chat"}, protocol: ""},
		{
			name: "200", lines: []string{"HTTP/1.1 200 OK", "Content-Length: 0"},
			err: "websocket handshake: server answered 200 OK", status: 200,
		},
		{
			name: "403", lines: []string{"HTTP/1.1 403 Forbidden", "Content-Length: 0"},
			err: "websocket handshake: server answered 403 Forbidden", status: 403,
		},
		{
			name: "426 with upgrade headers", lines: []string{"HTTP/1.1 426 Upgrade Required", "Sec-WebSocket-Version: 13", "Upgrade: websocket", "Connection: Upgrade", "Content-Length: 0"},
			err: "websocket handshake: server answered 426 Upgrade Required", status: 426,
		},
		{
			name: "missing Upgrade", lines: without("Upgrade"),
			err: `websocket handshake: bad Upgrade header: missing, want "websocket"`, status: 101, header: "Upgrade",
		},
		{
			name: "wrong Upgrade", lines: without("Upgrade", "Upgrade: h2c"),
			err: `websocket handshake: bad Upgrade header: got "h2c", want "websocket"`, status: 101, header: "Upgrade",
		},
		{
			name: "missing Connection", lines: without("Connection"),
			err: `websocket handshake: bad Connection header: missing, want "Upgrade"`, status: 101, header: "Connection",
		},
		{
			name: "wrong Connection", lines: without("Connection", "Connection: keep-alive"),
			err: `websocket handshake: bad Connection header: got "keep-alive", want "Upgrade"`, status: 101, header: "Connection",
		},
		{
			name: "missing Accept", lines: without("Sec-WebSocket-Accept"),
			err: `websocket handshake: bad Sec-WebSocket-Accept header: missing, want "` + rfcAccept + `"`, status: 101, header: "Sec-WebSocket-Accept",
		},
		{
			name: "wrong Accept", lines: without("Sec-WebSocket-Accept", "Sec-WebSocket-Accept: "+strings.ToLower(rfcAccept)),
			err: `websocket handshake: bad Sec-WebSocket-Accept header: got "` + strings.ToLower(rfcAccept) + `", want "` + rfcAccept + `"`, status: 101, header: "Sec-WebSocket-Accept",
		},
		{
			name: "Accept twice", lines: with("Sec-WebSocket-Accept: " + rfcAccept),
			err: `websocket handshake: bad Sec-WebSocket-Accept header: got "` + rfcAccept + ", " + rfcAccept + `", want "` + rfcAccept + `"`, status: 101, header: "Sec-WebSocket-Accept",
		},
		{
			name: "protocol not offered", lines: with("Sec-WebSocket-Protocol: evil"), offered: []string{"chat"},
			err: `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "evil", which was not offered`, status: 101, header: "Sec-WebSocket-Protocol",
		},
		{
			name: "protocol when none offered", lines: with("Sec-WebSocket-Protocol: chat"),
			err: `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "chat", which was not offered`, status: 101, header: "Sec-WebSocket-Protocol",
		},
		{
			name: "protocol case differs", lines: with("Sec-WebSocket-Protocol: Chat"), offered: []string{"chat"},
			err: `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "Chat", which was not offered`, status: 101, header: "Sec-WebSocket-Protocol",
		},
		{
			name: "two protocols", lines: with("Sec-WebSocket-Protocol: chat, superchat"), offered: []string{"chat", "superchat"},
			err: `websocket handshake: bad Sec-WebSocket-Protocol header: got "chat, superchat", want a single protocol`, status: 101, header: "Sec-WebSocket-Protocol",
		},
		{
			name: "protocol header twice", lines: with("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"), offered: []string{"chat"},
			err: `websocket handshake: bad Sec-WebSocket-Protocol header: got "chat, chat", want a single protocol`, status: 101, header: "Sec-WebSocket-Protocol",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := readResponse(t, tt.lines...)
			protocol, err := handshake.CheckResponse(resp, rfcKey, tt.offered)
			if tt.err == "" {
				if err != nil || protocol != tt.protocol {
					t.Fatalf("CheckResponse = %q, %v; want %q, nil", protocol, err, tt.protocol)
				}
				return
			}
			var re *handshake.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("CheckResponse error = %v (%T), want *ResponseError", err, err)
			}
			if protocol != "" {
				t.Errorf("protocol %q returned with an error", protocol)
			}
			if err.Error() != tt.err || re.StatusCode != tt.status || re.Header != tt.header {
				t.Errorf("CheckResponse error = %q (status %d, header %q)\nwant %q (status %d, header %q)", err, re.StatusCode, re.Header, tt.err, tt.status, tt.header)
			}
		})
	}
}

func TestResponseErrorWithoutStatusText(t *testing.T) {
	err := &handshake.ResponseError{StatusCode: 503, Reason: "try later"}
	if got, want := err.Error(), "websocket handshake: server answered 503 Service Unavailable: try later"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
