// Package proto is the sans-I/O core of wsd: the RFC 6455 frame codec,
// masking, UTF-8 validation, close codes and the connection state machine.
// It knows nothing of sockets, goroutines or timers: it is fed bytes and
// hands back events and bytes to write.
package proto

import (
	"encoding/binary"
	"errors"
)

// Opcode is a frame opcode (RFC 6455 section 5.2).
type Opcode uint8

// Opcodes defined by RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

func (op Opcode) valid() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// Reserved bits of the first header byte, as they appear in it.
const (
	RSV1 = 0x40
	RSV2 = 0x20
	RSV3 = 0x10
)

// MaxHeaderSize is the largest frame header: 2 bytes, 8 of length, 4 of mask key.
const MaxHeaderSize = 14

// MaxControlPayload is the largest payload of a control frame.
const MaxControlPayload = 125

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Rsv    byte // RSV1|RSV2|RSV3 bits, in place
	Op     Opcode
	Masked bool
	Key    [4]byte
	Length int64
}

var errLength = errors.New("frame length has its most significant bit set")

// headerSize returns the size of the header that starts with b0, b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseHeader decodes the header at the start of p. It returns n == 0 when
// p does not yet hold the whole header.
func ParseHeader(p []byte) (h Header, n int, err error) {
	if len(p) < 2 {
		return h, 0, nil
	}
	n = headerSize(p[1])
	if len(p) < n {
		return h, 0, nil
	}
	b0, b1 := p[0], p[1]
	h.Fin = b0&0x80 != 0
	h.Rsv = b0 & (RSV1 | RSV2 | RSV3)
	h.Op = Opcode(b0 & 0x0f)
	h.Masked = b1&0x80 != 0
	i := 2
	switch l := b1 & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p[2:]))
		i += 2
	case 127:
		u := binary.BigEndian.Uint64(p[2:])
		if u>>63 != 0 {
			return h, n, errLength
		}
		h.Length = int64(u)
		i += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Key[:], p[i:i+4])
	}
	return h, n, nil
}

// AppendHeader appends the encoding of h to dst, using the shortest length
// form as RFC 6455 section 5.2 requires.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := byte(h.Op) | h.Rsv
	if h.Fin {
		b0 |= 0x80
	}
	var m byte
	if h.Masked {
		m = 0x80
	}
	switch {
	case h.Length < 126:
		dst = append(dst, b0, m|byte(h.Length))
	case h.Length <= 0xffff:
		dst = append(dst, b0, m|126, byte(h.Length>>8), byte(h.Length))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Key[:]...)
	}
	return dst
}
