package proto

import (
	"unicode/utf8"
)

// UTF8 validates UTF-8 incrementally, so a message can be checked fragment
// by fragment and rejected at the first byte that cannot be part of valid
// UTF-8 (RFC 6455 section 8.1 asks to fail fast). The zero value is ready.
type UTF8 struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // accepted range for the next continuation byte
}

// first holds, for each possible lead byte, the sequence length minus one
// (0 for ASCII, 0xff for bytes that never start a sequence) in the low
// nibble and the index of the accepted range of the second byte above it.
var first [256]uint8

var ranges = [5][2]byte{{0x80, 0xbf}, {0xa0, 0xbf}, {0x80, 0x9f}, {0x90, 0xbf}, {0x80, 0x8f}}

func init() {
	for c := 0; c < 256; c++ {
		var v uint8
		switch {
		case c < 0x80:
			v = 0
		case c >= 0xc2 && c <= 0xdf:
			v = 1
		case c == 0xe0:
			v = 2 | 1<<4
		case c == 0xed:
			v = 2 | 2<<4
		case c >= 0xe1 && c <= 0xef:
			v = 2
		case c == 0xf0:
			v = 3 | 3<<4
		case c >= 0xf1 && c <= 0xf3:
			v = 3
		case c == 0xf4:
			v = 3 | 4<<4
		default:
			v = 0xff
		}
		first[c] = v
	}
}

// Write validates the next bytes of the text. It reports false as soon as
// the bytes seen so far cannot be a prefix of valid UTF-8.
func (v *UTF8) Write(p []byte) bool {
	for v.need > 0 {
		if len(p) == 0 {
			return true
		}
		if c := p[0]; c < v.lo || c > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xbf
		p = p[1:]
	}
	// The whole characters go to the standard validator; a character cut
	// by the end of p is checked byte by byte and its state kept.
	tail := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		if c := p[j]; c&0xc0 != 0x80 {
			if f := first[c]; f != 0xff && int(f&0xf) > len(p)-1-j {
				tail = j
			}
			break
		}
	}
	if !utf8.Valid(p[:tail]) {
		return false
	}
	return v.partial(p[tail:])
}

// partial checks the start of a character cut by the end of its chunk.
func (v *UTF8) partial(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	f := first[p[0]]
	n := int(f & 0xf)
	r := ranges[f>>4]
	lo, hi := r[0], r[1]
	for _, c := range p[1:] {
		if c < lo || c > hi {
			return false
		}
		lo, hi = 0x80, 0xbf
		n--
	}
	v.need = uint8(n)
	v.lo, v.hi = lo, hi
	return true
}

// Complete reports whether the text written so far ends on a character
// boundary.
func (v *UTF8) Complete() bool { return v.need == 0 }

// Reset prepares v for a new text.
func (v *UTF8) Reset() { *v = UTF8{} }

// ValidUTF8 reports whether p is entirely valid UTF-8.
func ValidUTF8(p []byte) bool {
	var v UTF8
	return v.Write(p) && v.Complete()
}
