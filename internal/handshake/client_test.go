package handshake

import (
	"bufio"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

func TestAppendRequest(t *testing.T) {
	tests := []struct {
		url   string
		extra http.Header
		host  string
		uri   string
	}{
		{"ws://example.com/chat", nil, "example.com", "/chat"},
		{"ws://example.com", nil, "example.com", "/"},
		{"ws://example.com:80/", nil, "example.com", "/"},
		{"ws://example.com:443/", nil, "example.com:443", "/"},
		{"ws://example.com:8080/a?b=c&d", nil, "example.com:8080", "/a?b=c&d"},
		{"wss://example.com:443/", nil, "example.com", "/"},
		{"wss://example.com:80/", nil, "example.com:80", "/"},
		{"WSS://Example.com:443/", nil, "Example.com", "/"},
		{"https://example.com:443/", nil, "example.com", "/"},
		{"ws://example.com:/x", nil, "example.com", "/x"},
		{"ws://[::1]:80/", nil, "[::1]", "/"},
		{"wss://[::1]:8443/", nil, "[::1]:8443", "/"},
		{"ws://[::1]/", nil, "[::1]", "/"},
		{"ws://example.com/a%20b/c?q=%2F#frag", nil, "example.com", "/a%20b/c?q=%2F"},
		{"ws://example.com/", http.Header{"Host": {"virtual.example:81"}}, "virtual.example:81", "/"},
		{"ws://example.com/", http.Header{"host": {"lower.example"}}, "lower.example", "/"},
		{"ws://example.com/", http.Header{"Host": {"bad\r\nX: 1"}}, "example.com", "/"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		raw := AppendRequest(nil, u, sampleKey, nil, "", tt.extra)
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			t.Errorf("%s: ReadRequest(%q): %v", tt.url, raw, err)
			continue
		}
		if r.Host != tt.host || r.RequestURI != tt.uri {
			t.Errorf("%s: Host %q, URI %q; want %q, %q", tt.url, r.Host, r.RequestURI, tt.host, tt.uri)
		}
		if n := strings.Count(string(raw), "\r\nHost: "); n != 1 {
			t.Errorf("%s: %d Host lines in %q, want 1", tt.url, n, raw)
		}
		if key, err := CheckRequest(r); err != nil || key != sampleKey {
			t.Errorf("%s: CheckRequest = %q, %v; want %q, nil", tt.url, key, err, sampleKey)
		}
	}
}

func TestAppendRequestHeaders(t *testing.T) {
	u, _ := url.Parse("wss://server.example.com/chat?room=1")
	extra := http.Header{
		"Origin":                   {"https://example.com"},
		"Cookie":                   {"a=b"},
		"Authorization":            {"Bearer t"},
		"Upgrade":                  {"h2c"},
		"connection":               {"close"},
		"Sec-Websocket-Key":        {"other"},
		"Sec-Websocket-Version":    {"8"},
		"Sec-Websocket-Protocol":   {"evil"},
		"Sec-Websocket-Extensions": {"evil"},
		"X-Crlf":                   {"a\r\nInjected: 1"},
		"X-Cr":                     {"a\rInjected: 1"},
		"Bad:Name":                 {"v"},
	}
	prefix := []byte("prefix")
	got := AppendRequest(prefix, u, sampleKey, []string{"chat", "superchat"}, "permessage-deflate; client_max_window_bits", extra)
	const want = "prefix" +
		"GET /chat?room=1 HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + sampleKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Authorization: Bearer t\r\n" +
		"Cookie: a=b\r\n" +
		"Origin: https://example.com\r\n" +
		"\r\n"
	if string(got) != want {
		t.Fatalf("AppendRequest =\n%q\nwant\n%q", got, want)
	}

	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(got[len(prefix):]))))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	if r.Method != "GET" || !r.ProtoAtLeast(1, 1) {
		t.Errorf("request %s %s, want GET HTTP/1.1", r.Method, r.Proto)
	}
	checkHeaders(t, r.Header, map[string][]string{
		"Upgrade":                  {"websocket"},
		"Connection":               {"Upgrade"},
		"Sec-WebSocket-Key":        {sampleKey},
		"Sec-WebSocket-Version":    {"13"},
		"Sec-WebSocket-Protocol":   {"chat, superchat"},
		"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"Origin":                   {"https://example.com"},
		"Injected":                 nil,
	})
	if got := Tokens(r.Header, "Sec-WebSocket-Protocol"); strings.Join(got, "|") != "chat|superchat" {
		t.Errorf("offered protocols %q, want [chat superchat]", got)
	}
}

// readResponse parses a response written as lines, as the client sees it.
func readResponse(t *testing.T, lines ...string) *http.Response {
	t.Helper()
	raw := strings.Join(lines, "\r\n") + "\r\n\r\n"
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("ReadResponse(%q): %v", raw, err)
	}
	return resp
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		lines   []string
		offered []string
		want    string
	}{
		{[]string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + sampleAccept}, nil, ""},
		{[]string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + sampleAccept}, []string{"chat"}, ""},
		{[]string{"Upgrade: WebSocket", "Connection: keep-alive, UPGRADE", "Sec-WebSocket-Accept: " + sampleAccept}, nil, ""},
		{
			[]string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + sampleAccept, "Sec-WebSocket-Protocol: chat"},
			[]string{"superchat", "chat"}, "chat",
		},
	}
	for _, tt := range tests {
		resp := readResponse(t, append([]string{"HTTP/1.1 101 Switching Protocols"}, tt.lines...)...)
		got, err := CheckResponse(resp, sampleKey, tt.offered)
		if err != nil || got != tt.want {
			t.Errorf("CheckResponse(%q, offered %q) = %q, %v; want %q, nil", tt.lines, tt.offered, got, err, tt.want)
		}
	}
}

func TestCheckResponseErrors(t *testing.T) {
	const (
		upgrade = "Upgrade: websocket"
		conn    = "Connection: Upgrade"
		accept  = "Sec-WebSocket-Accept: " + sampleAccept
	)
	tests := []struct {
		name    string
		lines   []string
		offered []string
		header  string
		err     string
	}{
		{
			"forbidden", []string{"HTTP/1.1 403 Forbidden", "Content-Length: 0"}, nil,
			"", "websocket handshake: server answered 403 Forbidden",
		},
		{
			"ok", []string{"HTTP/1.1 200 OK", "Content-Length: 0", upgrade, conn, accept}, nil,
			"", "websocket handshake: server answered 200 OK",
		},
		{
			"upgrade required", []string{"HTTP/1.1 426 Upgrade Required", "Sec-WebSocket-Version: 13", "Content-Length: 0"}, nil,
			"", "websocket handshake: server answered 426 Upgrade Required",
		},
		{
			"no upgrade", []string{"HTTP/1.1 101 Switching Protocols", conn, accept}, nil,
			"Upgrade", `websocket handshake: bad Upgrade header: missing, want "websocket"`,
		},
		{
			"upgrade h2c", []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: h2c", conn, accept}, nil,
			"Upgrade", `websocket handshake: bad Upgrade header: got "h2c", want "websocket"`,
		},
		{
			"upgrade substring", []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: websockets", conn, accept}, nil,
			"Upgrade", `websocket handshake: bad Upgrade header: got "websockets", want "websocket"`,
		},
		{
			"no connection", []string{"HTTP/1.1 101 Switching Protocols", upgrade, accept}, nil,
			"Connection", `websocket handshake: bad Connection header: missing, want "Upgrade"`,
		},
		{
			"connection without upgrade", []string{"HTTP/1.1 101 Switching Protocols", upgrade, "Connection: keep-alive", "Connection: TE", accept}, nil,
			"Connection", `websocket handshake: bad Connection header: got "keep-alive, TE", want "Upgrade"`,
		},
		{
			"no accept", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn}, nil,
			"Sec-WebSocket-Accept", `websocket handshake: bad Sec-WebSocket-Accept header: missing, want "` + sampleAccept + `"`,
		},
		{
			"wrong accept", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, "Sec-WebSocket-Accept: x"}, nil,
			"Sec-WebSocket-Accept", `websocket handshake: bad Sec-WebSocket-Accept header: got "x", want "` + sampleAccept + `"`,
		},
		{
			"accept case", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, "Sec-WebSocket-Accept: " + strings.ToLower(sampleAccept)}, nil,
			"Sec-WebSocket-Accept", `websocket handshake: bad Sec-WebSocket-Accept header: got "` + strings.ToLower(sampleAccept) + `", want "` + sampleAccept + `"`,
		},
		{
			"accept twice", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, accept}, nil,
			"Sec-WebSocket-Accept", `websocket handshake: bad Sec-WebSocket-Accept header: got "` + sampleAccept + ", " + sampleAccept + `", want "` + sampleAccept + `"`,
		},
		{
			"accept of the key itself", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, "Sec-WebSocket-Accept: " + sampleKey}, nil,
			"Sec-WebSocket-Accept", `websocket handshake: bad Sec-WebSocket-Accept header: got "` + sampleKey + `", want "` + sampleAccept + `"`,
		},
		{
			"protocol not offered", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol: other"}, []string{"chat"},
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "other", which was not offered`,
		},
		{
			"protocol none offered", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol: chat"}, nil,
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "chat", which was not offered`,
		},
		{
			"protocol case", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol: Chat"}, []string{"chat"},
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "Chat", which was not offered`,
		},
		{
			"protocol empty", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol:"}, []string{"chat"},
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: server chose "", which was not offered`,
		},
		{
			"protocol list", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol: chat, superchat"}, []string{"chat", "superchat"},
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: got "chat, superchat", want a single protocol`,
		},
		{
			"protocol twice", []string{"HTTP/1.1 101 Switching Protocols", upgrade, conn, accept, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"}, []string{"chat"},
			"Sec-WebSocket-Protocol", `websocket handshake: bad Sec-WebSocket-Protocol header: got "chat, chat", want a single protocol`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := readResponse(t, tt.lines...)
			proto, err := CheckResponse(resp, sampleKey, tt.offered)
			if err == nil {
				t.Fatalf("CheckResponse = %q, nil; want error %q", proto, tt.err)
			}
			if err.Error() != tt.err {
				t.Errorf("CheckResponse error:\n got %s\nwant %s", err, tt.err)
			}
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("CheckResponse error is %T, want *ResponseError", err)
			}
			if re.StatusCode != resp.StatusCode || re.Status != resp.Status || re.Header != tt.header {
				t.Errorf("ResponseError = %d %q header %q, want %d %q header %q",
					re.StatusCode, re.Status, re.Header, resp.StatusCode, resp.Status, tt.header)
			}
			if proto != "" {
				t.Errorf("CheckResponse protocol = %q with error, want empty", proto)
			}
		})
	}
}

func TestResponseErrorString(t *testing.T) {
	tests := []struct {
		err  ResponseError
		want string
	}{
		{ResponseError{StatusCode: 404, Status: "404 Not Found"}, "websocket handshake: server answered 404 Not Found"},
		{ResponseError{StatusCode: 404}, "websocket handshake: server answered 404 Not Found"},
		{ResponseError{StatusCode: 503, Status: "503 Busy", Reason: "try later"}, "websocket handshake: server answered 503 Busy: try later"},
		{
			ResponseError{StatusCode: 101, Status: "101 Switching Protocols", Header: "Sec-WebSocket-Accept", Reason: `got "x", want "y"`},
			`websocket handshake: bad Sec-WebSocket-Accept header: got "x", want "y"`,
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestRoundTrip runs both sides of a handshake through each other's
// parsers, as a client and a server on a real connection would.
func TestRoundTrip(t *testing.T) {
	u, _ := url.Parse("ws://localhost:8080/echo")
	key := NewKey()
	offered := []string{"v2.echo", "v1.echo"}
	req := AppendRequest(nil, u, key, offered, "permessage-deflate; client_max_window_bits", http.Header{"Origin": {"http://localhost"}})

	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(req))))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	gotKey, herr := CheckRequest(r)
	if herr != nil || gotKey != key {
		t.Fatalf("CheckRequest = %q, %v; want %q, nil", gotKey, herr, key)
	}
	exts, err := ParseExtensions(r.Header)
	if err != nil || len(exts) != 1 || exts[0].Name != "permessage-deflate" {
		t.Fatalf("ParseExtensions = %#v, %v", exts, err)
	}
	proto := SelectProtocol(Tokens(r.Header, "Sec-WebSocket-Protocol"), []string{"v1.echo", "v2.echo"})
	if proto != "v2.echo" {
		t.Fatalf("SelectProtocol = %q, want v2.echo", proto)
	}
	answer := FormatExtensions([]Extension{{Name: "permessage-deflate", Params: []Param{{Name: "server_no_context_takeover"}}}})
	resp := AppendResponse(nil, AcceptKey(gotKey), proto, answer, nil)

	rr, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(resp))), nil)
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	got, err := CheckResponse(rr, key, offered)
	if err != nil || got != "v2.echo" {
		t.Fatalf("CheckResponse = %q, %v; want v2.echo, nil", got, err)
	}
	if got := rr.Header.Get("Sec-WebSocket-Extensions"); got != "permessage-deflate; server_no_context_takeover" {
		t.Errorf("Sec-WebSocket-Extensions = %q", got)
	}
	// A response meant for another key must be refused.
	if _, err := CheckResponse(rr, NewKey(), offered); err == nil {
		t.Error("CheckResponse accepted a response for a different key")
	}
}
