package wsd

import "github.com/wsd-go/wsd/internal/deflate"

// CompressionMode says whether a connection may use permessage-deflate.
type CompressionMode uint8

// Compression modes.
const (
	// CompressionDefault: a server accepts a client's offer; a client
	// does not offer.
	CompressionDefault CompressionMode = iota
	// CompressionEnabled: a server accepts a client's offer; a client
	// offers.
	CompressionEnabled
	// CompressionDisabled: a server declines every offer; a client does
	// not offer.
	CompressionDisabled
)

// DefaultCompressionLevel is the compression level when
// CompressionOptions.Level is zero: 1, the fastest.
const DefaultCompressionLevel = deflate.DefaultLevel

// DefaultCompressionThreshold is the size under which messages are sent
// uncompressed when CompressionOptions.Threshold is zero.
const DefaultCompressionThreshold = 256

// CompressionOptions configure the permessage-deflate extension
// (RFC 7692). The zero value lets a server accept clients' offers, with
// settings that keep the memory of each connection small; a client offers
// the extension only with Mode set to CompressionEnabled.
//
// The settings are from this end's point of view, whether it is a server
// or a client: "our" compressor compresses what we send, the peer's what
// we receive.
type CompressionOptions struct {
	// Mode says whether the extension may be used.
	Mode CompressionMode

	// Level is the compression level of what we send: 1 (fastest) to 9
	// (smallest), or -2 for Huffman coding only. Zero means
	// DefaultCompressionLevel.
	Level int

	// Threshold is the size under which a message is sent uncompressed,
	// unless SendOptions.Compress says otherwise. Zero means
	// DefaultCompressionThreshold; a negative value compresses every
	// message.
	Threshold int

	// ContextTakeover lets our compressor keep its context from one
	// message to the next, which compresses small similar messages far
	// better but keeps a flate writer (about 1 MiB) for the life of the
	// connection. Off by default: we then announce
	// server_no_context_takeover (server) or client_no_context_takeover
	// (client), and compress each message with a writer borrowed from a
	// pool shared by all connections.
	ContextTakeover bool

	// PeerNoContextTakeover asks the peer to compress each message on its
	// own (client_no_context_takeover from a server,
	// server_no_context_takeover from a client), so that we need not keep
	// its window, up to 32 KiB, between messages.
	PeerNoContextTakeover bool

	// WindowBits limits the window of our compressor to 2^WindowBits
	// bytes, 8 to 15; zero means 15. A server announces it as
	// server_max_window_bits, a client as the value of
	// client_max_window_bits. Below 15 the compressor restarts every
	// 2^WindowBits bytes, at level 1, as compress/flate cannot shrink its
	// window.
	WindowBits int

	// PeerWindowBits asks the peer to limit its window to
	// 2^PeerWindowBits bytes, 8 to 15, so that the window we keep for its
	// context is smaller; zero means 15. A server sends it as
	// client_max_window_bits if the client allows it; a client offers it
	// as server_max_window_bits.
	PeerWindowBits int
}

// CompressChoice overrides, for one message, whether it is compressed.
type CompressChoice uint8

// Compression choices for SendOptions.Compress.
const (
	// CompressDefault compresses the message if the extension is in use
	// and the message is at least CompressionOptions.Threshold bytes.
	CompressDefault CompressChoice = iota
	// CompressNever sends the message uncompressed.
	CompressNever
	// CompressAlways compresses the message whenever the extension is in
	// use, whatever its size.
	CompressAlways
)
