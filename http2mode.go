package wsd

import "errors"

// HTTP2Mode chooses whether a client opens its WebSocket over HTTP/2
// (RFC 8441). See Options.HTTP2.
type HTTP2Mode int

// HTTP/2 modes of a client.
const (
	// HTTP2Off opens every WebSocket on a connection of its own, with
	// an HTTP/1.1 upgrade.
	HTTP2Off HTTP2Mode = iota
	// HTTP2Auto tries HTTP/2 for wss:// URLs and falls back to HTTP/1.1
	// when the server does not speak HTTP/2 or does not announce
	// SETTINGS_ENABLE_CONNECT_PROTOCOL. ws:// URLs use HTTP/1.1.
	HTTP2Auto
	// HTTP2Only fails, with ErrHTTP2Unsupported, where HTTP2Auto would
	// fall back.
	HTTP2Only
)

// ErrHTTP2Unsupported is the error of a client that insists on HTTP/2
// when the server does not offer WebSockets over it.
var ErrHTTP2Unsupported = errors.New("wsd: the server does not offer WebSockets over HTTP/2 (RFC 8441)")
