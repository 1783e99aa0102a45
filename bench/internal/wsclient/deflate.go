package wsclient

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DeflateOffer is the Sec-WebSocket-Extensions offer of DialDeflate. With
// no context takeover either way every message is compressed on its own,
// which is all that gorilla and nbio support.
const DeflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// maxInflated bounds the size of an inflated message.
const maxInflated = 1 << 30

// inflateTail goes after a compressed message before inflating it: the
// 0x00 0x00 0xff 0xff that the sender removed (RFC 7692, section 7.2.2),
// then an empty final stored block, so that the reader ends with io.EOF
// rather than running out of input.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// checkDeflate checks the server's Sec-WebSocket-Extensions value against
// DeflateOffer (RFC 7692, section 7.1): exactly one extension,
// permessage-deflate, with server_no_context_takeover (the client inflates
// every message on its own), and besides only client_no_context_takeover
// and server_max_window_bits, each at most once. client_max_window_bits
// was not offered, so it may not come back.
func checkDeflate(value string) error {
	if strings.TrimSpace(value) == "" {
		return errors.New("server did not accept permessage-deflate")
	}
	if strings.Contains(value, ",") {
		return fmt.Errorf("server accepted more than one extension: %q", value)
	}
	params := strings.Split(value, ";")
	if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
		return fmt.Errorf("server accepted %q instead of permessage-deflate", value)
	}
	seen := map[string]bool{}
	for _, p := range params[1:] {
		name, val, hasVal := strings.Cut(p, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if seen[name] {
			return fmt.Errorf("permessage-deflate parameter %s repeated in %q", name, value)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasVal {
				return fmt.Errorf("permessage-deflate parameter %s has a value in %q", name, value)
			}
		case "server_max_window_bits":
			// Any window will do: the inflater keeps 32 KiB.
			if n, err := strconv.Atoi(val); !hasVal || err != nil || n < 8 || n > 15 {
				return fmt.Errorf("bad server_max_window_bits in %q", value)
			}
		default:
			return fmt.Errorf("unexpected permessage-deflate parameter %q in %q", name, value)
		}
	}
	if !seen["server_no_context_takeover"] {
		return fmt.Errorf("server did not accept server_no_context_takeover: %q", value)
	}
	return nil
}

// Deflate appends to dst the permessage-deflate payload of message p: p
// compressed with compress/flate at level and flushed, without the final
// 0x00 0x00 0xff 0xff (RFC 7692, section 7.2.1). It makes a compressor
// each time, so it is meant for preparing payloads in advance.
func Deflate(dst, p []byte, level int) ([]byte, error) {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		return dst, err
	}
	if _, err := w.Write(p); err != nil {
		return dst, err
	}
	if err := w.Flush(); err != nil {
		return dst, err
	}
	z, ok := bytes.CutSuffix(b.Bytes(), inflateTail[:4])
	if !ok {
		return dst, errors.New("deflate: flushed output does not end with 00 00 ff ff")
	}
	if len(z) == 0 {
		z = []byte{0x00} // an empty message is one empty block (section 7.2.3.6)
	}
	return append(dst, z...), nil
}

// AppendMessage appends to dst one final client frame with opcode op
// carrying payload masked with key. With compressed set the frame has the
// RSV1 bit, and payload must come from Deflate.
func AppendMessage(dst []byte, op byte, payload []byte, compressed bool, key uint32) []byte {
	b0 := 0x80 | op
	if compressed {
		b0 |= 0x40
	}
	dst = appendHeader(dst, b0, len(payload), key)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], key)
	return dst
}

// maskBytes XORs p with the mask key, repeated from the start of p.
func maskBytes(p []byte, key uint32) {
	mask := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^mask)
	}
	for j := 0; i < len(p); i, j = i+1, j+1 {
		p[i] ^= byte(mask >> (8 * j))
	}
}

// WriteMessage sends payload as one masked message of opcode op, in a
// single frame and a single write. With compressed set, payload must come
// from Deflate and the connection must have been made by DialDeflate.
func (c *Conn) WriteMessage(op byte, payload []byte, compressed bool) error {
	if compressed && !c.deflate {
		return errors.New("compressed message on a connection without permessage-deflate")
	}
	c.wbuf = AppendMessage(c.wbuf[:0], op, payload, compressed, c.NextMask())
	_, err := c.nc.Write(c.wbuf)
	return err
}

// inflate decompresses the message that ReadMessage left in c.rbuf, and
// returns it in c.rbuf; the two buffers swap roles for this.
func (c *Conn) inflate() ([]byte, error) {
	c.zbuf, c.rbuf = append(c.rbuf, inflateTail...), c.zbuf[:0]
	c.zsrc.Reset(c.zbuf)
	if c.fr == nil {
		c.fr = flate.NewReader(&c.zsrc)
	} else if err := c.fr.(flate.Resetter).Reset(&c.zsrc, nil); err != nil {
		return nil, err
	}
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			if len(c.rbuf) >= maxInflated {
				return nil, fmt.Errorf("inflated message exceeds %d bytes", maxInflated)
			}
			c.rbuf = append(c.rbuf, 0)[:len(c.rbuf)]
		}
		n, err := c.fr.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		if err == io.EOF {
			return c.rbuf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inflating a message: %w", err)
		}
	}
}
