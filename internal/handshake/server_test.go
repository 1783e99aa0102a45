package handshake

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

// readRequest parses a request written as lines, as the server sees it.
func readRequest(t *testing.T, lines ...string) *http.Request {
	t.Helper()
	raw := strings.Join(lines, "\r\n") + "\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", raw, err)
	}
	return r
}

func TestCheckRequest(t *testing.T) {
	tests := [][]string{
		{
			"GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
			"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13",
		},
		{
			"GET / HTTP/1.1", "Host: h", "Upgrade: WebSocket", "Connection: keep-alive, Upgrade",
			"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13",
		},
		{
			"GET / HTTP/1.1", "Host: h", "upgrade: h2c", "UPGRADE: websocket", "Connection: keep-alive", "Connection: upgrade",
			"sec-websocket-key:   " + sampleKey + " ", "sec-websocket-version: 13",
		},
	}
	for _, lines := range tests {
		r := readRequest(t, lines...)
		key, err := CheckRequest(r)
		if err != nil || key != sampleKey {
			t.Errorf("CheckRequest(%q) = %q, %v; want %q, nil", lines, key, err, sampleKey)
		}
	}
}

func TestCheckRequestRejects(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(r *http.Request)
		status int
		reason string
	}{
		{
			"post", func(r *http.Request) { r.Method = "POST" },
			405, `method "POST" not allowed, want GET`,
		},
		{
			"method first", func(r *http.Request) { r.Method = "HEAD"; r.ProtoMinor = 0; r.Header = nil },
			405, `method "HEAD" not allowed, want GET`,
		},
		{
			"http/1.0", func(r *http.Request) { r.Proto, r.ProtoMinor = "HTTP/1.0", 0 },
			400, `protocol "HTTP/1.0" not supported, want HTTP/1.1 or later`,
		},
		{
			"protocol before headers", func(r *http.Request) { r.Proto, r.ProtoMinor = "HTTP/1.0", 0; r.Header = nil },
			400, `protocol "HTTP/1.0" not supported, want HTTP/1.1 or later`,
		},
		{
			"no upgrade", func(r *http.Request) { r.Header.Del("Upgrade") },
			400, "missing or bad Upgrade header",
		},
		{
			"upgrade h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") },
			400, "missing or bad Upgrade header",
		},
		{
			"upgrade substring", func(r *http.Request) { r.Header.Set("Upgrade", "websockets") },
			400, "missing or bad Upgrade header",
		},
		{
			"upgrade before connection", func(r *http.Request) { r.Header.Del("Upgrade"); r.Header.Del("Connection") },
			400, "missing or bad Upgrade header",
		},
		{
			"no connection", func(r *http.Request) { r.Header.Del("Connection") },
			400, "missing or bad Connection header",
		},
		{
			"connection keep-alive", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") },
			400, "missing or bad Connection header",
		},
		{
			"connection substring", func(r *http.Request) { r.Header.Set("Connection", "upgrades, keep-alive") },
			400, "missing or bad Connection header",
		},
		{
			"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") },
			426, "missing Sec-WebSocket-Version header",
		},
		{
			"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") },
			426, `unsupported Sec-WebSocket-Version "8"`,
		},
		{
			"empty version", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "") },
			426, `unsupported Sec-WebSocket-Version ""`,
		},
		{
			"version list", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "13, 8") },
			426, `unsupported Sec-WebSocket-Version "13, 8"`,
		},
		{
			"version twice", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Version", "13") },
			426, `unsupported Sec-WebSocket-Version "13, 13"`,
		},
		{
			"version before key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "7"); r.Header.Del("Sec-WebSocket-Key") },
			426, `unsupported Sec-WebSocket-Version "7"`,
		},
		{
			"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") },
			400, "missing Sec-WebSocket-Key header",
		},
		{
			"key twice", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", sampleKey) },
			400, "more than one Sec-WebSocket-Key header",
		},
		{
			"key not base64", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not base64 at all!!!!!==") },
			400, `Sec-WebSocket-Key "not base64 at all!!!!!==" is not base64`,
		},
		{
			"key url encoding", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j-_==") },
			400, `Sec-WebSocket-Key "dGhlIHNhbXBsZSBub25j-_==" is not base64`,
		},
		{
			"key unpadded", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ") },
			400, `Sec-WebSocket-Key "dGhlIHNhbXBsZSBub25jZQ" is not base64`,
		},
		{
			"key 15 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") },
			400, `Sec-WebSocket-Key "AAAAAAAAAAAAAAAAAAAA" decodes to 15 bytes, want 16`,
		},
		{
			"key 17 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") },
			400, `Sec-WebSocket-Key "AAAAAAAAAAAAAAAAAAAAAAA=" decodes to 17 bytes, want 16`,
		},
		{
			"empty key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "") },
			400, `Sec-WebSocket-Key "" decodes to 0 bytes, want 16`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readRequest(t, "GET /chat HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade",
				"Sec-WebSocket-Key: "+sampleKey, "Sec-WebSocket-Version: 13")
			tt.edit(r)
			key, err := CheckRequest(r)
			if err == nil {
				t.Fatalf("CheckRequest = %q, nil; want status %d", key, tt.status)
			}
			if err.Status != tt.status || err.Reason != tt.reason {
				t.Errorf("CheckRequest error = %d %q, want %d %q", err.Status, err.Reason, tt.status, tt.reason)
			}
			if key != "" {
				t.Errorf("CheckRequest key = %q with error, want empty", key)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{426, `unsupported Sec-WebSocket-Version "8"`}, `websocket handshake: 426 Upgrade Required: unsupported Sec-WebSocket-Version "8"`},
		{&Error{405, `method "POST" not allowed, want GET`}, `websocket handshake: 405 Method Not Allowed: method "POST" not allowed, want GET`},
		{&Error{400, "missing or bad Upgrade header"}, "websocket handshake: 400 Bad Request: missing or bad Upgrade header"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestSelectProtocol(t *testing.T) {
	tests := []struct {
		offered, accept []string
		want            string
	}{
		{nil, nil, ""},
		{[]string{"chat"}, nil, ""},
		{nil, []string{"chat"}, ""},
		{[]string{"chat"}, []string{"chat"}, "chat"},
		{[]string{"superchat", "chat"}, []string{"chat", "superchat"}, "superchat"}, // client order wins
		{[]string{"v1", "v2"}, []string{"v2", "v3"}, "v2"},
		{[]string{"Chat"}, []string{"chat"}, ""}, // case-sensitive
		{[]string{"a", "b"}, []string{"c"}, ""},
	}
	for _, tt := range tests {
		if got := SelectProtocol(tt.offered, tt.accept); got != tt.want {
			t.Errorf("SelectProtocol(%q, %q) = %q, want %q", tt.offered, tt.accept, got, tt.want)
		}
	}
}

func TestAppendResponse(t *testing.T) {
	extra := http.Header{
		"X-B":                    {"2"},
		"X-A":                    {"1", "1b"},
		"Set-Cookie":             {"a=b"},
		"Upgrade":                {"h2c"},
		"sec-websocket-accept":   {"x"},
		"Sec-Websocket-Protocol": {"evil"},
		"Connection":             {"close"},
		"X-Crlf":                 {"a\r\nInjected: 1"},
		"X-Lf":                   {"a\nInjected: 1"},
		"X-Nul":                  {"a\x00"},
		"X-Tab":                  {"a\tb"},
		"Bad Name":               {"v"},
		"Bad\r\nName":            {"v"},
	}
	prefix := []byte("prefix")
	got := AppendResponse(prefix, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat", "permessage-deflate; server_no_context_takeover", extra)
	const want = "prefix" +
		"HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: chat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" +
		"Set-Cookie: a=b\r\n" +
		"X-A: 1\r\n" +
		"X-A: 1b\r\n" +
		"X-B: 2\r\n" +
		"X-Tab: a\tb\r\n" +
		"\r\n"
	if string(got) != want {
		t.Fatalf("AppendResponse =\n%q\nwant\n%q", got, want)
	}

	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(got[len(prefix):]))), nil)
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	if resp.StatusCode != 101 || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("status %d %s, want 101 HTTP/1.1", resp.StatusCode, resp.Proto)
	}
	checkHeaders(t, resp.Header, map[string][]string{
		"Upgrade":                  {"websocket"},
		"Connection":               {"Upgrade"},
		"Sec-WebSocket-Accept":     {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		"Sec-WebSocket-Protocol":   {"chat"},
		"Sec-WebSocket-Extensions": {"permessage-deflate; server_no_context_takeover"},
		"X-A":                      {"1", "1b"},
		"Injected":                 nil,
		"X-Nul":                    nil,
	})
}

func TestAppendResponseMinimal(t *testing.T) {
	extra := http.Header{"Sec-WebSocket-Protocol": {"chat"}, "Sec-WebSocket-Extensions": {"x"}}
	got := string(AppendResponse(nil, "abc", "", "", extra))
	const want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n"
	if got != want {
		t.Errorf("AppendResponse = %q, want %q", got, want)
	}
}

// checkHeaders compares the given headers of h; nil means absent.
func checkHeaders(t *testing.T, h http.Header, want map[string][]string) {
	t.Helper()
	for name, vs := range want {
		got := h.Values(name)
		if strings.Join(got, "\x00") != strings.Join(vs, "\x00") || len(got) != len(vs) {
			t.Errorf("header %s = %q, want %q", name, got, vs)
		}
	}
}
