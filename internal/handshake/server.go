package handshake

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Error is a server-side rejection of an opening handshake. The server
// answers with Status and Reason as a short plain-text body; for 405 it
// adds "Allow: GET", and for 426 "Sec-WebSocket-Version: 13" so the
// client learns which version to speak.
type Error struct {
	Status int
	Reason string
}

// Error returns the status code, its text and the reason.
func (e *Error) Error() string {
	return "websocket handshake: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Reason
}

// CheckRequest validates a client's opening handshake (RFC 6455,
// section 4.2.1) and returns its Sec-WebSocket-Key.
//
// A missing Sec-WebSocket-Version is answered with 426, like an
// unsupported one, rather than 400: clients of drafts older than the
// RFC sent no version, and 426 with "Sec-WebSocket-Version: 13" tells
// them what to speak.
func CheckRequest(r *http.Request) (key string, err *Error) {
	if r.Method != http.MethodGet {
		return "", &Error{http.StatusMethodNotAllowed, fmt.Sprintf("method %q not allowed, want GET", r.Method)}
	}
	if !r.ProtoAtLeast(1, 1) {
		return "", &Error{http.StatusBadRequest, fmt.Sprintf("protocol %q not supported, want HTTP/1.1 or later", r.Proto)}
	}
	if !HasToken(r.Header, "Upgrade", "websocket") {
		return "", &Error{http.StatusBadRequest, "missing or bad Upgrade header"}
	}
	if !HasToken(r.Header, "Connection", "upgrade") {
		return "", &Error{http.StatusBadRequest, "missing or bad Connection header"}
	}
	switch v := r.Header.Values("Sec-WebSocket-Version"); {
	case len(v) == 0:
		return "", &Error{http.StatusUpgradeRequired, "missing Sec-WebSocket-Version header"}
	case len(v) > 1 || v[0] != "13":
		return "", &Error{http.StatusUpgradeRequired, fmt.Sprintf("unsupported Sec-WebSocket-Version %q", strings.Join(v, ", "))}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	switch len(keys) {
	case 0:
		return "", &Error{http.StatusBadRequest, "missing Sec-WebSocket-Key header"}
	case 1:
	default:
		return "", &Error{http.StatusBadRequest, "more than one Sec-WebSocket-Key header"}
	}
	key = keys[0]
	b, decErr := base64.StdEncoding.DecodeString(key)
	if decErr != nil {
		return "", &Error{http.StatusBadRequest, fmt.Sprintf("Sec-WebSocket-Key %q is not base64", key)}
	}
	if len(b) != 16 {
		return "", &Error{http.StatusBadRequest, fmt.Sprintf("Sec-WebSocket-Key %q decodes to %d bytes, want 16", key, len(b))}
	}
	return key, nil
}

// SelectProtocol returns the first protocol the client offered that the
// server accepts, or "" if there is none. The client lists its protocols
// by preference, so its order wins. Matching is exact because subprotocol
// names are case-sensitive.
func SelectProtocol(offered []string, accept []string) string {
	for _, p := range offered {
		if slices.Contains(accept, p) {
			return p
		}
	}
	return ""
}

// serverHeaders are written by AppendResponse itself, or must not be in a
// 101 response (RFC 9110 section 8.6), and so are never taken from its
// extra headers.
var serverHeaders = []string{"Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Content-Length", "Transfer-Encoding"}

// AppendResponse appends the server's 101 Switching Protocols response
// to dst. protocol and extensions are omitted when empty; the caller must
// pass values that are valid in a header. Extra headers follow in sorted
// order, so the output is deterministic; those that would duplicate the
// handshake headers, and those with invalid names or values, are skipped.
func AppendResponse(dst []byte, acceptKey, protocol, extensions string, extra http.Header) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, acceptKey...)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = appendHeader(dst, "Sec-WebSocket-Protocol", protocol)
	}
	if extensions != "" {
		dst = appendHeader(dst, "Sec-WebSocket-Extensions", extensions)
	}
	dst = appendExtra(dst, extra, serverHeaders)
	return append(dst, "\r\n"...)
}

func appendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendExtra appends the headers of extra in sorted order, leaving out
// the names in skip (compared without case) and anything that could
// corrupt the message, such as a value with CR or LF.
func appendExtra(dst []byte, extra http.Header, skip []string) []byte {
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		if !isToken(name) || slices.ContainsFunc(skip, func(s string) bool { return strings.EqualFold(s, name) }) {
			continue
		}
		for _, v := range extra[name] {
			if validValue(v) {
				dst = appendHeader(dst, name, v)
			}
		}
	}
	return dst
}
