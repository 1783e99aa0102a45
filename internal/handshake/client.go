package handshake

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// clientHeaders are written by AppendRequest itself and so are never
// taken from its extra headers. Host is handled apart, as it may be
// overridden.
var clientHeaders = []string{"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}

// AppendRequest appends the client's opening handshake for u to dst
// (RFC 6455, section 4.1). The Host line comes from u.Host without the
// scheme's default port, unless extra has a Host header. protocols are
// offered in order of preference, and extensions is sent as is if not
// empty; the caller must pass values that are valid in a header. Other
// extra headers follow in sorted order, so the output is deterministic;
// those that would duplicate the handshake headers, and those with invalid
// names or values, are skipped.
func AppendRequest(dst []byte, u *url.URL, key string, protocols []string, extensions string, extra http.Header) []byte {
	host := u.Host
	if p := u.Port(); p == "" || p == defaultPort(u.Scheme) {
		// Also drops the colon of an empty port, as in "example.com:".
		host = strings.TrimSuffix(host, ":"+p)
	}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		if vs := extra[name]; strings.EqualFold(name, "Host") && len(vs) > 0 && validValue(vs[0]) {
			host = vs[0]
			break
		}
	}
	dst = append(dst, "GET "...)
	dst = append(dst, u.RequestURI()...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst = appendHeader(dst, "Host", host)
	dst = append(dst, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(protocols) > 0 {
		dst = appendHeader(dst, "Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	if extensions != "" {
		dst = appendHeader(dst, "Sec-WebSocket-Extensions", extensions)
	}
	dst = appendExtra(dst, extra, clientHeaders)
	return append(dst, "\r\n"...)
}

// defaultPort returns the port implied by scheme, which the Host header
// leaves out like browsers do. The HTTP schemes are included for callers
// that dial with them.
func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "ws", "http":
		return "80"
	case "wss", "https":
		return "443"
	}
	return ""
}

// ResponseError is a client-side failure of the opening handshake: the
// server answered with a status other than 101, or with a bad handshake
// header.
type ResponseError struct {
	StatusCode int    // status code of the response
	Status     string // status line of the response, such as "403 Forbidden"
	Header     string // the bad header, or "" if the status was wrong
	Reason     string // what was wrong with it
}

// Error says what the server answered, or which header was bad and why.
func (e *ResponseError) Error() string {
	if e.Header != "" {
		return "websocket handshake: bad " + e.Header + " header: " + e.Reason
	}
	status := e.Status
	if status == "" {
		status = strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	}
	s := "websocket handshake: server answered " + status
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// CheckResponse validates the server's answer to a handshake sent with
// key and offering the protocols offered (RFC 6455, section 4.1), and
// returns the protocol the server chose, or "" if it chose none.
// Extensions are left to the caller, who knows which it offered.
// Errors are of type *ResponseError.
func CheckResponse(resp *http.Response, key string, offered []string) (protocol string, err error) {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", &ResponseError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if !HasToken(resp.Header, "Upgrade", "websocket") {
		return "", headerError(resp, "Upgrade", "websocket")
	}
	if !HasToken(resp.Header, "Connection", "upgrade") {
		return "", headerError(resp, "Connection", "Upgrade")
	}
	if want := AcceptKey(key); strings.Join(resp.Header.Values("Sec-WebSocket-Accept"), ", ") != want {
		return "", headerError(resp, "Sec-WebSocket-Accept", want)
	}
	return checkProtocol(resp, offered)
}

// checkProtocol returns the protocol the server chose, which must be one
// of those offered, or "".
func checkProtocol(resp *http.Response, offered []string) (string, error) {
	vs := resp.Header.Values("Sec-WebSocket-Protocol")
	if len(vs) == 0 {
		return "", nil
	}
	if len(vs) == 1 && slices.Contains(offered, vs[0]) {
		return vs[0], nil
	}
	got := strings.Join(vs, ", ")
	reason := fmt.Sprintf("server chose %q, which was not offered", got)
	if len(vs) > 1 || strings.Contains(got, ",") {
		reason = fmt.Sprintf("got %q, want a single protocol", got)
	}
	return "", &ResponseError{StatusCode: resp.StatusCode, Status: resp.Status, Header: "Sec-WebSocket-Protocol", Reason: reason}
}

// headerError reports that the header name of resp was missing or did not
// have the value want.
func headerError(resp *http.Response, name, want string) *ResponseError {
	vs := resp.Header.Values(name)
	reason := fmt.Sprintf("missing, want %q", want)
	if len(vs) > 0 {
		reason = fmt.Sprintf("got %q, want %q", strings.Join(vs, ", "), want)
	}
	return &ResponseError{StatusCode: resp.StatusCode, Status: resp.Status, Header: name, Reason: reason}
}
