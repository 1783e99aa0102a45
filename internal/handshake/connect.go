package handshake

import (
	"fmt"
	"net/http"
	"strings"
)

// The opening handshake over HTTP/2 (RFC 8441): an extended CONNECT
// request with the pseudo-header ":protocol: websocket", answered with a
// 2xx response. Sec-WebSocket-Key and Sec-WebSocket-Accept are not used;
// the other Sec-WebSocket-* headers keep their meaning.

// ProtocolHeader is the key under which net/http puts the ":protocol"
// pseudo-header of an extended CONNECT in Request.Header, on both sides.
const ProtocolHeader = ":protocol"

// CheckConnect validates an RFC 8441 extended CONNECT request, the opening
// handshake of a WebSocket over an HTTP/2 stream. A wrong method is
// answered with 405 ("Allow: CONNECT"), a missing or other :protocol with
// 400, a wrong version with 426, as over HTTP/1.1.
func CheckConnect(r *http.Request) *Error {
	if r.Method != http.MethodConnect {
		return &Error{http.StatusMethodNotAllowed, fmt.Sprintf("method %q not allowed over HTTP/2, want CONNECT with :protocol websocket (RFC 8441)", r.Method)}
	}
	switch p := r.Header.Values(ProtocolHeader); {
	case len(p) == 0:
		return &Error{http.StatusBadRequest, "CONNECT without :protocol; want :protocol websocket (RFC 8441)"}
	case len(p) > 1 || p[0] != "websocket":
		return &Error{http.StatusBadRequest, fmt.Sprintf("unsupported :protocol %q, want websocket", strings.Join(p, ", "))}
	}
	switch v := r.Header.Values("Sec-WebSocket-Version"); {
	case len(v) == 0:
		return &Error{http.StatusUpgradeRequired, "missing Sec-WebSocket-Version header"}
	case len(v) > 1 || v[0] != "13":
		return &Error{http.StatusUpgradeRequired, fmt.Sprintf("unsupported Sec-WebSocket-Version %q", strings.Join(v, ", "))}
	}
	return nil
}

// ConnectHeader returns the request headers of an RFC 8441 handshake:
// the :protocol pseudo-header, the version, the offered protocols and
// extensions, and the extra headers except those a handshake sets itself
// and those HTTP/2 forbids.
func ConnectHeader(protocols []string, extensions string, extra http.Header) http.Header {
	h := http.Header{}
	for name, vs := range extra {
		if isToken(name) && !reservedOnH2(name) && validValues(vs) {
			h[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	h[ProtocolHeader] = []string{"websocket"}
	h.Set("Sec-WebSocket-Version", "13")
	if len(protocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	if extensions != "" {
		h.Set("Sec-WebSocket-Extensions", extensions)
	}
	return h
}

// CheckConnectResponse validates the server's answer to an extended
// CONNECT offering the protocols offered, and returns the protocol the
// server chose, or "". Errors are of type *ResponseError.
func CheckConnectResponse(resp *http.Response, offered []string) (string, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", &ResponseError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return checkProtocol(resp, offered)
}

// H2Response removes from a server's response header what HTTP/2 has no
// use for or forbids: Sec-WebSocket-Accept and the connection-specific
// headers of the HTTP/1.1 upgrade.
func H2Response(h http.Header) http.Header {
	for name := range h {
		if hopByHop(name) || http.CanonicalHeaderKey(name) == "Sec-Websocket-Accept" {
			delete(h, name)
		}
	}
	return h
}

// hopByHop reports whether name is a connection-specific header, which
// HTTP/2 forbids (RFC 9113, section 8.2.2).
func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Upgrade", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te":
		return true
	}
	return false
}

// reservedOnH2 reports whether a client's extra header name must be left
// out of an RFC 8441 request: a connection-specific one, or one that the
// handshake sets itself.
func reservedOnH2(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
		return true
	}
	return hopByHop(name)
}

func validValues(vs []string) bool {
	for _, v := range vs {
		if !validValue(v) {
			return false
		}
	}
	return true
}
