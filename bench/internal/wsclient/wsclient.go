// Package wsclient is a minimal WebSocket client for load generation.
//
// It speaks just enough of RFC 6455 to drive echo servers fast: the opening
// handshake, masked single-frame messages, reading (possibly fragmented)
// messages, and the closing handshake. Payloads are filled with a pattern
// derived from a seed, so that every echoed byte can be checked without
// keeping a copy of what was sent. Nothing on the hot path allocates once
// the buffers have grown to the message size.
//
// DialDeflate adds permessage-deflate (RFC 7692) without context takeover:
// the client sends payloads compressed in advance (see Deflate) and
// inflates compressed messages from the server. Inflating allocates only
// the small Huffman tables that compress/flate makes for itself.
package wsclient

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"
)

// Opcodes used by the client.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// readBufferSize is the size of the buffered reader of each connection.
// Larger messages are read straight into the message buffer.
const readBufferSize = 16 << 10

// maxHeader is the largest client frame header: 2 bytes, an 8-byte
// length and a 4-byte mask key.
const maxHeader = 14

// Conn is a client connection after a successful opening handshake.
//
// One goroutine may read (ReadMessage) while another writes (Write,
// WritePattern, NextMask); each side must be used by one goroutine at a
// time.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	rbuf []byte // payload of the last message read
	wbuf []byte // frame being written by WritePattern or WriteMessage
	hdr  [8]byte
	rng  uint64 // state of the mask key generator

	deflate    bool          // permessage-deflate was negotiated
	zbuf       []byte        // compressed payload of the last message, and the tail
	zsrc       bytes.Reader  // reads zbuf for fr
	fr         io.ReadCloser // inflater, made for the first compressed message
	wire       int           // payload bytes of the last message on the wire
	compressed bool          // whether the last message was compressed
}

// CloseError is returned by ReadMessage when the server sends a close
// frame.
type CloseError struct{ Code int }

func (e *CloseError) Error() string { return fmt.Sprintf("server sent close frame, code %d", e.Code) }

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Dial connects to the server at addr (host:port), from local when it is
// not nil, and performs the opening handshake with path "/". The whole
// exchange must finish within timeout. It offers no extension.
func Dial(addr string, local *net.TCPAddr, timeout time.Duration) (*Conn, error) {
	return dial(addr, local, timeout, false)
}

// DialDeflate is Dial offering DeflateOffer; it fails unless the server
// accepts it with parameters that fit the offer (see checkDeflate).
func DialDeflate(addr string, local *net.TCPAddr, timeout time.Duration) (*Conn, error) {
	return dial(addr, local, timeout, true)
}

func dial(addr string, local *net.TCPAddr, timeout time.Duration, deflate bool) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if local != nil {
		d.LocalAddr = local
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), rng: rand.Uint64() | 1, deflate: deflate}
	if err := c.handshake(addr, timeout); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) handshake(host string, timeout time.Duration) error {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})

	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := "GET / HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n"
	if c.deflate {
		req += "Sec-WebSocket-Extensions: " + DeflateOffer + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}

	sum := sha1.Sum([]byte(key + acceptGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("handshake: reading status: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 101")) {
		return fmt.Errorf("handshake: unexpected status %q", strings.TrimSpace(string(line)))
	}
	accepted := false
	var extensions []string
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("handshake: reading headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accepted = string(value) == want
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")):
			extensions = append(extensions, string(value))
		}
	}
	if !accepted {
		return errors.New("handshake: missing or wrong Sec-WebSocket-Accept")
	}
	if !c.deflate {
		if len(extensions) > 0 {
			return fmt.Errorf("handshake: server negotiated extensions %q that were not offered", strings.Join(extensions, ", "))
		}
		return nil
	}
	if err := checkDeflate(strings.Join(extensions, ", ")); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	return nil
}

// SetDeadline sets the read and write deadline of the connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close closes the TCP connection without a closing handshake.
func (c *Conn) Close() error { return c.nc.Close() }

// LocalAddr returns the local address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// NextMask returns a fresh mask key for the next frame. It must be called
// by the writing goroutine only.
func (c *Conn) NextMask() uint32 {
	// xorshift64: cheap, and good enough to vary the key of every frame.
	x := c.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	c.rng = x
	return uint32(x >> 32)
}

// Write writes raw bytes, such as frames built with AppendFrame.
func (c *Conn) Write(p []byte) error {
	_, err := c.nc.Write(p)
	return err
}

// WritePattern sends one masked message of the given opcode and size whose
// payload is the pattern for seed (see Fill), as a single frame and a
// single write.
func (c *Conn) WritePattern(op byte, size int, seed uint64) error {
	c.wbuf = AppendFrame(c.wbuf[:0], op, size, seed, c.NextMask())
	_, err := c.nc.Write(c.wbuf)
	return err
}

// WriteClose sends a masked close frame with the given status code.
func (c *Conn) WriteClose(code int) error {
	var f [8]byte
	f[0] = 0x80 | OpClose
	f[1] = 0x80 | 2
	key := c.NextMask()
	binary.LittleEndian.PutUint32(f[2:6], key)
	f[6] = byte(code>>8) ^ byte(key)
	f[7] = byte(code) ^ byte(key>>8)
	_, err := c.nc.Write(f[:])
	return err
}

// closeWait is how long CloseHandshake waits for the server to close the
// TCP connection after the close frames have been exchanged.
const closeWait = time.Second

// CloseHandshake performs the closing handshake: it sends a close frame
// with code 1000, reads until the server's close frame arrives (discarding
// any messages before it), waits for the server to close the TCP
// connection, and closes its own end.
func (c *Conn) CloseHandshake() error {
	defer c.nc.Close()
	if err := c.WriteClose(1000); err != nil {
		return err
	}
	for {
		_, _, err := c.ReadMessage()
		var ce *CloseError
		if errors.As(err, &ce) {
			if ce.Code != 1000 {
				return fmt.Errorf("close handshake: server answered code %d", ce.Code)
			}
			// The server closes the TCP connection first (RFC 6455,
			// section 7.1.1); wait for that, but not for long.
			_ = c.nc.SetReadDeadline(time.Now().Add(closeWait))
			if _, err := c.br.ReadByte(); err != io.EOF {
				return fmt.Errorf("close handshake: server did not close the TCP connection within %v: %v", closeWait, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("close handshake: %w", err)
		}
	}
}

// ReadMessage reads the next text or binary message and returns its opcode
// and payload. The payload is only valid until the next call. Fragmented
// messages are joined, and compressed ones inflated; pings and pongs are
// skipped (the echo servers never send them). A close frame from the
// server is returned as *CloseError.
func (c *Conn) ReadMessage() (op byte, payload []byte, err error) {
	c.rbuf = c.rbuf[:0]
	compressed := false
	for {
		b0, err := c.br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		b1, err := c.br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		if b1&0x80 != 0 {
			return 0, nil, errors.New("server sent a masked frame")
		}
		fin, fop := b0&0x80 != 0, b0&0x0f
		if b0&0x70 != 0 {
			// RSV1 marks a compressed message, on its first frame only
			// (RFC 7692, section 6).
			if !c.deflate || b0&0x30 != 0 {
				return 0, nil, errors.New("server set reserved bits")
			}
			if fop != OpText && fop != OpBinary {
				return 0, nil, errors.New("server set the compression bit on a control or continuation frame")
			}
			compressed = true
		}
		n := int64(b1 & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, c.hdr[:2]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint16(c.hdr[:2]))
		case 127:
			if _, err := io.ReadFull(c.br, c.hdr[:8]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint64(c.hdr[:8]))
			if n < 0 || n > 1<<30 {
				return 0, nil, fmt.Errorf("frame too large: %d bytes", n)
			}
		}

		switch fop {
		case OpPing, OpPong:
			if _, err := c.br.Discard(int(n)); err != nil {
				return 0, nil, err
			}
			continue
		case OpClose:
			var body [125]byte
			if n > int64(len(body)) {
				return 0, nil, errors.New("close frame too long")
			}
			if _, err := io.ReadFull(c.br, body[:n]); err != nil {
				return 0, nil, err
			}
			code := 1005
			if n >= 2 {
				code = int(binary.BigEndian.Uint16(body[:2]))
			}
			return 0, nil, &CloseError{Code: code}
		case OpText, OpBinary:
			if len(c.rbuf) != 0 || op != 0 {
				return 0, nil, errors.New("new message inside a fragmented message")
			}
			op = fop
		case OpContinuation:
			if op == 0 {
				return 0, nil, errors.New("continuation frame without a message")
			}
		default:
			return 0, nil, fmt.Errorf("unknown opcode %#x", fop)
		}

		start := len(c.rbuf)
		end := start + int(n)
		if cap(c.rbuf) < end {
			grown := make([]byte, start, end)
			copy(grown, c.rbuf)
			c.rbuf = grown
		}
		c.rbuf = c.rbuf[:end]
		if _, err := io.ReadFull(c.br, c.rbuf[start:end]); err != nil {
			return 0, nil, err
		}
		if fin {
			c.wire, c.compressed = len(c.rbuf), compressed
			if compressed {
				p, err := c.inflate()
				return op, p, err
			}
			return op, c.rbuf, nil
		}
	}
}

// LastWire returns how many payload bytes the last message read took on
// the wire (after compression, if any) and whether it was compressed.
func (c *Conn) LastWire() (n int, compressed bool) { return c.wire, c.compressed }

// AppendFrame appends to dst one final, masked client frame with opcode op
// whose payload is the size-byte pattern for seed, masked with key.
func AppendFrame(dst []byte, op byte, size int, seed uint64, key uint32) []byte {
	dst = appendHeader(dst, 0x80|op, size, key)
	start := len(dst)
	if cap(dst)-start < size {
		grown := make([]byte, start, start+size)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+size]
	mask := uint64(key) | uint64(key)<<32
	fill(dst[start:], seed, op == OpText, mask)
	return dst
}

// appendHeader appends the header of a masked client frame: first byte b0,
// payload length size, mask key key.
func appendHeader(dst []byte, b0 byte, size int, key uint32) []byte {
	var h [maxHeader]byte
	h[0] = b0
	n := 2
	switch {
	case size < 126:
		h[1] = 0x80 | byte(size)
	case size <= 0xffff:
		h[1] = 0x80 | 126
		binary.BigEndian.PutUint16(h[2:], uint16(size))
		n = 4
	default:
		h[1] = 0x80 | 127
		binary.BigEndian.PutUint64(h[2:], uint64(size))
		n = 10
	}
	binary.LittleEndian.PutUint32(h[n:], key)
	n += 4
	return append(dst, h[:n]...)
}

// Seed derives the pattern seed of one message from the connection number
// and the message's sequence number (splitmix64 finaliser).
func Seed(conn, seq uint64) uint64 {
	z := conn<<40 ^ seq + 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// weyl is the step of the pattern: word k of the pattern for seed s is
// s + (k+1)*weyl, so every word of every message is different.
const weyl = 0x9E3779B97F4A7C15

// textMask keeps every byte of a text payload below 0x80, which makes it
// valid UTF-8.
const textMask = 0x7f7f7f7f7f7f7f7f

// Fill writes the pattern for seed into p. Text payloads are 7-bit ASCII.
func Fill(p []byte, seed uint64, text bool) { fill(p, seed, text, 0) }

// fill writes the pattern for seed into p, XORed with mask (the 4-byte mask
// key repeated twice, little-endian).
func fill(p []byte, seed uint64, text bool, mask uint64) {
	keep := ^uint64(0)
	if text {
		keep = textMask
	}
	v := seed
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v += weyl
		binary.LittleEndian.PutUint64(p[i:], v&keep^mask)
	}
	if i < len(p) {
		v += weyl
		w := v&keep ^ mask
		for j := 0; i < len(p); i, j = i+1, j+1 {
			p[i] = byte(w >> (8 * j))
		}
	}
}

// Verify reports whether p is exactly the pattern for seed.
func Verify(p []byte, seed uint64, text bool) bool {
	keep := ^uint64(0)
	if text {
		keep = textMask
	}
	v := seed
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v += weyl
		if binary.LittleEndian.Uint64(p[i:]) != v&keep {
			return false
		}
	}
	if i < len(p) {
		v += weyl
		w := v & keep
		for j := 0; i < len(p); i, j = i+1, j+1 {
			if p[i] != byte(w>>(8*j)) {
				return false
			}
		}
	}
	return true
}
