// Package wsd is a WebSocket (RFC 6455) server and client.
//
// It carries the design of websocket-driver into Go: a connection is made
// with NewServer (inside any net/http handler) or NewClient (for a ws:// or
// wss:// URL), given event handlers with OnOpen, OnMessage, OnError and
// OnClose, and started with Start. Messages are sent with Send, SendText and
// SendBinary; Close starts the closing handshake.
//
// The permessage-deflate extension (RFC 7692) is built in: a server accepts
// clients' offers unless Options.Compression disables it, and a client
// offers it when Options.Compression enables it. Conn.Extensions tells
// what was agreed.
//
// A client goes through the proxy of Options.Proxy, by default the one the
// environment names (HTTP_PROXY, HTTPS_PROXY, NO_PROXY): an HTTP proxy
// tunnels with CONNECT, a SOCKS5 proxy with RFC 1928. Options.Jar sends and
// stores cookies with the handshake. Redirects are not followed: Start
// fails with a *HandshakeError naming the Location. Client certificates go
// in Options.TLSConfig.
//
// Underneath, a protocol core without I/O parses and encodes frames; the
// transport here drives it with one goroutine per connection, which reads
// and dispatches events in order. Every method of Conn is safe for
// concurrent use: concurrent sends never interleave their frames.
package wsd
