// Package wsd is a WebSocket (RFC 6455) server and client.
//
// It carries the design of websocket-driver into Go: a connection is made
// with NewServer (inside any net/http handler) or NewClient (for a ws:// or
// wss:// URL), and started with Start. IsWebSocket tells a handler whether
// a request is a WebSocket handshake, so that one path can serve a page
// and a WebSocket.
//
// # Events and blocking reads
//
// A connection delivers what arrives in one of two ways. With an
// OnMessage handler, each message is an event, as in websocket-driver,
// beside OnOpen, OnError, OnClose, OnPing and OnPong. Without one, the
// program reads: Read returns the next message, ReadInto reads it into a
// buffer the caller reuses (without allocating), and Reader streams it,
// frame by frame, so that a message of any size passes through bounded
// memory. While the program does not read, the connection stops reading
// its socket: TCP pushes back on the peer. NetConn turns a connection into
// a net.Conn, and package wsjson reads and writes JSON.
//
// Messages are sent with Send, SendText and SendBinary, or Write and
// Writer (one message in fragments, as it is produced), each with a
// context. Sends made before the connection opens wait, in order, and go
// out as soon as it does. Close starts the closing handshake, CloseNow
// drops the connection at once. When a connection ends, reads return a
// *CloseError with the code and reason (CloseStatus gives the code).
//
// # Concurrency
//
// Every method of Conn is safe for concurrent use. Concurrent sends never
// interleave their frames, and a Writer holds other messages back until it
// is closed, while pings, pongs and close frames still go out. Event
// handlers run one at a time, in order. A panic in a handler fails that
// connection alone, with 1011, and is reported to Options.ErrorLog.
//
// # Limits
//
// Options.MaxLength bounds a message (64 MiB by default), checked at each
// frame header and, for a compressed message, while it inflates. Control
// frames are limited to 125 bytes. Sends block while the socket is full,
// bounded by Options.WriteTimeout or a context. Keepalive
// (Options.PingInterval) cuts a peer that answers nothing, an idle timeout
// closes a connection that exchanges no messages, and Group.Shutdown closes
// every connection by its context's deadline.
//
// # Security
//
// A server refuses, with 403, a browser's handshake from a page of another
// origin, unless Options.OriginPatterns allows it. A client goes through
// the proxy of Options.Proxy, by default the one the environment names
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY): an HTTP proxy tunnels with CONNECT,
// a SOCKS5 proxy with RFC 1928. Options.Jar sends and stores cookies with
// the handshake. Redirects are not followed: Start fails with a
// *HandshakeError naming the Location. Client certificates go in
// Options.TLSConfig.
//
// # Compression
//
// The permessage-deflate extension (RFC 7692) is built in: a server
// accepts clients' offers unless Options.Compression disables it, and a
// client offers it when Options.Compression enables it. Conn.Extensions
// tells what was agreed. Inflation is bounded by MaxLength.
//
// # Transports
//
// Underneath, a protocol core without I/O parses and encodes frames, and a
// transport drives it: here, one goroutine per connection over any
// net.Conn; package eventloop runs many connections on a few epoll loops
// and a pool of workers instead, with the same API.
//
// # HTTP/2
//
// WebSockets also run over HTTP/2 (RFC 8441), as streams that share one
// connection: NewServer accepts the extended CONNECT of a browser once the
// program imports package xconnect, and a client opts in with
// Options.HTTP2. Conn.HTTP2 tells which protocol carries a connection.
// Over HTTP/2 a server's handler must outlive its WebSocket; see Start.
package wsd
