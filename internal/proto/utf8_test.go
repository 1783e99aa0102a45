package proto

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// completions are byte strings that can finish any incomplete but so far
// valid UTF-8 sequence: 1 to 3 continuation bytes, drawn so that every
// restricted second-byte range (E0: A0-BF, ED: 80-9F, F0: 90-BF,
// F4: 80-8F) has a member.
var completions = func() [][]byte {
	cont := []byte{0x80, 0x90, 0xa0, 0xbf}
	out := [][]byte{{}}
	prev := [][]byte{{}}
	for range 3 {
		var next [][]byte
		for _, p := range prev {
			for _, c := range cont {
				next = append(next, append(append([]byte{}, p...), c))
			}
		}
		out = append(out, next...)
		prev = next
	}
	return out
}()

// viableTail reports whether q, which starts at a character boundary
// after valid text, can be extended into valid UTF-8.
func viableTail(q []byte) bool {
	for _, c := range completions {
		if utf8.Valid(append(append([]byte{}, q...), c...)) {
			return true
		}
	}
	return false
}

// firstBad returns the index of the first byte of p at which p stops
// being a prefix of valid UTF-8, or -1 if it never does.
func firstBad(p []byte) int {
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		for k := 1; i+k <= len(p); k++ {
			if !viableTail(p[i : i+k]) {
				return i + k - 1
			}
		}
		return -1 // ends inside a sequence that could still be completed
	}
	return -1
}

// checkUTF8 runs every check on one input: the verdict matches
// utf8.Valid whole and in every split, and the validator fails at the
// first impossible byte.
func checkUTF8(t *testing.T, name string, p []byte, allPairs bool) {
	t.Helper()
	want := utf8.Valid(p)
	if got := ValidUTF8(p); got != want {
		t.Errorf("%s: ValidUTF8(%x) = %v, want %v", name, p, got, want)
		return
	}
	bad := firstBad(p)
	if bad < 0 && !want {
		// Valid prefix that ends inside a sequence.
		var v UTF8
		if !v.Write(p) || v.Complete() {
			t.Errorf("%s: %x is a truncated sequence: want Write true, Complete false", name, p)
		}
	}

	// Byte at a time: the first false must come exactly at byte bad.
	var v UTF8
	for i := range p {
		ok := v.Write(p[i : i+1])
		if i == bad {
			if ok {
				t.Errorf("%s: %x fed byte by byte: byte %d (0x%02x) accepted, want rejected there", name, p, i, p[i])
			}
			break
		}
		if !ok {
			t.Errorf("%s: %x fed byte by byte: rejected at byte %d, want %d", name, p, i, bad)
			break
		}
	}
	if bad < 0 && v.Complete() != want {
		t.Errorf("%s: %x fed byte by byte: Complete = %v, want %v", name, p, v.Complete(), want)
	}
	// In one call, up to the bad byte and then including it.
	if bad >= 0 {
		var v UTF8
		if !v.Write(p[:bad]) {
			t.Errorf("%s: prefix %x rejected, want accepted", name, p[:bad])
		}
		v.Reset()
		if v.Write(p[:bad+1]) {
			t.Errorf("%s: %x accepted, want rejected at its last byte", name, p[:bad+1])
		}
	}

	// Every split in two (a sample of them for long texts), and for short
	// inputs every split in three.
	feed := func(parts ...[]byte) bool {
		var v UTF8
		for _, part := range parts {
			if !v.Write(part) {
				return false
			}
		}
		return v.Complete()
	}
	step := 1
	if len(p) > 128 {
		step = len(p)/64 + 1 // long texts: a sample of split positions
	}
	for i := 0; i <= len(p); i += step {
		if got := feed(p[:i], p[i:]); got != want {
			t.Errorf("%s: %x split at %d: %v, want %v", name, p, i, got, want)
		}
		if !allPairs {
			continue
		}
		for j := i; j <= len(p); j++ {
			if got := feed(p[:i], p[i:j], p[j:]); got != want {
				t.Errorf("%s: %x split at %d and %d: %v, want %v", name, p, i, j, got, want)
			}
		}
	}
}

// The reference firstBad against hand-checked positions, so the checks
// above rest on something known.
func TestUTF8FailFastPositions(t *testing.T) {
	tests := []struct {
		in  string
		bad int
	}{
		{"", -1},
		{"abc", -1},
		{"\x80", 0},
		{"ab\xff", 2},
		{"\xc0\xaf", 0},              // C0 never starts a sequence
		{"\xc1\xbf", 0},              // nor C1
		{"\xc2", -1},                 // truncated, but a valid prefix
		{"\xc2\x7f", 1},              // missing continuation
		{"\xe0\x80\xaf", 1},          // overlong: E0 needs A0-BF
		{"\xe0\x9f\xbf", 1},          // overlong
		{"\xe0\xa0", -1},             // truncated
		{"\xed\xa0\x80", 1},          // U+D800: ED needs 80-9F
		{"\xed\x9f\xbf", -1},         // U+D7FF
		{"\xf0\x80\x80\x80", 1},      // overlong NUL
		{"\xf0\x8f\xbf\xbf", 1},      // overlong
		{"\xf4\x8f\xbf\xbf", -1},     // U+10FFFF
		{"\xf4\x90\x80\x80", 1},      // above U+10FFFF
		{"\xf5\x80\x80\x80", 0},      // F5 never starts a sequence
		{"\xf8\x88\x80\x80\x80", 0},  // 5-byte form
		{"\xfe", 0},                  //
		{"\xe1\xbd\xb9\xe1\xbd", -1}, // truncated second character
		{"\xe1\xbd\xb9\xe1\x41", 4},  // ASCII where a continuation belongs
		{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 12},
	}
	for _, tt := range tests {
		if got := firstBad([]byte(tt.in)); got != tt.bad {
			t.Errorf("firstBad(%q) = %d, want %d", tt.in, got, tt.bad)
		}
		checkUTF8(t, fmt.Sprintf("%q", tt.in), []byte(tt.in), true)
	}
}

// The cases of Markus Kuhn's UTF-8 decoder capability and stress test,
// as used by the Autobahn test suite (cases 6.x).
func TestUTF8KuhnStressTest(t *testing.T) {
	type tc struct {
		name  string
		in    string
		valid bool
	}
	tests := []tc{
		{"1 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},

		{"2.1.1 U+0000", "\x00", true},
		{"2.1.2 U+0080", "\xc2\x80", true},
		{"2.1.3 U+0800", "\xe0\xa0\x80", true},
		{"2.1.4 U+10000", "\xf0\x90\x80\x80", true},
		{"2.1.5 5 bytes", "\xf8\x88\x80\x80\x80", false},
		{"2.1.6 6 bytes", "\xfc\x84\x80\x80\x80\x80", false},
		{"2.2.1 U+007F", "\x7f", true},
		{"2.2.2 U+07FF", "\xdf\xbf", true},
		{"2.2.3 U+FFFF", "\xef\xbf\xbf", true},
		{"2.2.4 U+1FFFFF", "\xf7\xbf\xbf\xbf", false},
		{"2.2.5 5 bytes", "\xfb\xbf\xbf\xbf\xbf", false},
		{"2.2.6 6 bytes", "\xfd\xbf\xbf\xbf\xbf\xbf", false},
		{"2.3.1 U+D7FF", "\xed\x9f\xbf", true},
		{"2.3.2 U+E000", "\xee\x80\x80", true},
		{"2.3.3 U+FFFD", "\xef\xbf\xbd", true},
		{"2.3.4 U+10FFFF", "\xf4\x8f\xbf\xbf", true},
		{"2.3.5 U+110000", "\xf4\x90\x80\x80", false},
		{"2.3.5 F4 90", "\xf4\x90", false},
		{"2.3.5 F4 BF", "\xf4\xbf\xbf\xbf", false},

		{"3.1.1 first continuation", "\x80", false},
		{"3.1.2 last continuation", "\xbf", false},
		{"3.1.3", "\x80\xbf", false},
		{"3.1.4", "\x80\xbf\x80", false},
		{"3.1.5", "\x80\xbf\x80\xbf", false},
		{"3.1.6", "\x80\xbf\x80\xbf\x80", false},
		{"3.1.7", "\x80\xbf\x80\xbf\x80\xbf", false},
		{"3.1.8", "\x80\xbf\x80\xbf\x80\xbf\x80", false},

		{"3.3.1 2-byte missing last", "\xc0", false},
		{"3.3.2 3-byte missing last", "\xe0\x80", false},
		{"3.3.3 4-byte missing last", "\xf0\x80\x80", false},
		{"3.3.4 5-byte missing last", "\xf8\x80\x80\x80", false},
		{"3.3.5 6-byte missing last", "\xfc\x80\x80\x80\x80", false},
		{"3.3.6 U+07FF missing last", "\xdf", false},
		{"3.3.7 U+FFFF missing last", "\xef\xbf", false},
		{"3.3.8 U+1FFFFF missing last", "\xf7\xbf\xbf", false},
		{"3.3.9 5-byte missing last", "\xfb\xbf\xbf\xbf", false},
		{"3.3.10 6-byte missing last", "\xfd\xbf\xbf\xbf\xbf", false},
		{"3.3 valid prefix U+0080", "\xc2", false},
		{"3.3 valid prefix U+0800", "\xe0\xa0", false},
		{"3.3 valid prefix U+10000", "\xf0\x90\x80", false},
		{"3.3 valid prefix U+10FFFF", "\xf4\x8f\xbf", false},
		{"3.4 concatenation", "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf", false},

		{"3.5.1 FE", "\xfe", false},
		{"3.5.2 FF", "\xff", false},
		{"3.5.3 FE FE FF FF", "\xfe\xfe\xff\xff", false},
		{"3.5 FE after text", "hello\xfe", false},

		{"4.1.1 overlong / 2", "\xc0\xaf", false},
		{"4.1.2 overlong / 3", "\xe0\x80\xaf", false},
		{"4.1.3 overlong / 4", "\xf0\x80\x80\xaf", false},
		{"4.1.4 overlong / 5", "\xf8\x80\x80\x80\xaf", false},
		{"4.1.5 overlong / 6", "\xfc\x80\x80\x80\x80\xaf", false},
		{"4.2.1 max overlong 2", "\xc1\xbf", false},
		{"4.2.2 max overlong 3", "\xe0\x9f\xbf", false},
		{"4.2.3 max overlong 4", "\xf0\x8f\xbf\xbf", false},
		{"4.2.4 max overlong 5", "\xf8\x87\xbf\xbf\xbf", false},
		{"4.2.5 max overlong 6", "\xfc\x83\xbf\xbf\xbf\xbf", false},
		{"4.3.1 overlong NUL 2", "\xc0\x80", false},
		{"4.3.2 overlong NUL 3", "\xe0\x80\x80", false},
		{"4.3.3 overlong NUL 4", "\xf0\x80\x80\x80", false},
		{"4.3.4 overlong NUL 5", "\xf8\x80\x80\x80\x80", false},
		{"4.3.5 overlong NUL 6", "\xfc\x80\x80\x80\x80\x80", false},

		{"5.1.1 U+D800", "\xed\xa0\x80", false},
		{"5.1.2 U+DB7F", "\xed\xad\xbf", false},
		{"5.1.3 U+DB80", "\xed\xae\x80", false},
		{"5.1.4 U+DBFF", "\xed\xaf\xbf", false},
		{"5.1.5 U+DC00", "\xed\xb0\x80", false},
		{"5.1.6 U+DF80", "\xed\xbe\x80", false},
		{"5.1.7 U+DFFF", "\xed\xbf\xbf", false},
		{"5.2.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", false},
		{"5.2.2 U+D800 U+DFFF", "\xed\xa0\x80\xed\xbf\xbf", false},
		{"5.2.3 U+DB7F U+DC00", "\xed\xad\xbf\xed\xb0\x80", false},
		{"5.2.4 U+DB7F U+DFFF", "\xed\xad\xbf\xed\xbf\xbf", false},
		{"5.2.5 U+DB80 U+DC00", "\xed\xae\x80\xed\xb0\x80", false},
		{"5.2.6 U+DB80 U+DFFF", "\xed\xae\x80\xed\xbf\xbf", false},
		{"5.2.7 U+DBFF U+DC00", "\xed\xaf\xbf\xed\xb0\x80", false},
		{"5.2.8 U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", false},
		{"5.3.1 U+FFFE", "\xef\xbf\xbe", true},
		{"5.3.2 U+FFFF", "\xef\xbf\xbf", true},
		{"5.3.3 U+FDD0", "\xef\xb7\x90", true},
		{"5.3.4 U+FDEF", "\xef\xb7\xaf", true},
		{"5.3.5 U+1FFFE", "\xf0\x9f\xbf\xbe", true},
		{"5.3.6 U+10FFFE", "\xf4\x8f\xbf\xbe", true},
	}
	// 3.1.9: all 64 continuation bytes.
	var all []byte
	for c := 0x80; c <= 0xbf; c++ {
		all = append(all, byte(c))
	}
	tests = append(tests, tc{"3.1.9 all continuation bytes", string(all), false})
	// 3.2: every lonely start byte followed by a space.
	for c := 0xc0; c <= 0xfd; c++ {
		tests = append(tests, tc{fmt.Sprintf("3.2 lonely %02X", c), string([]byte{byte(c), ' '}), false})
	}
	for _, tt := range tests {
		p := []byte(tt.in)
		if utf8.Valid(p) != tt.valid {
			t.Fatalf("%s: table says valid=%v, unicode/utf8 disagrees", tt.name, tt.valid)
		}
		checkUTF8(t, tt.name, p, true)
		// The same bytes in the middle of longer text, across the 16-byte
		// ASCII fast path.
		for _, pad := range []int{1, 15, 16, 17, 31} {
			ascii := strings.Repeat("a", pad)
			checkUTF8(t, fmt.Sprintf("%s padded %d", tt.name, pad), []byte(ascii+tt.in+ascii), false)
		}
	}
}

// Every scalar value encodes to valid UTF-8; every surrogate, encoded the
// way CESU-8 would, is rejected at its second byte.
func TestUTF8AllCodePoints(t *testing.T) {
	var buf []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			p := []byte{0xed, byte(0x80 | (r>>6)&0x3f), byte(0x80 | r&0x3f)}
			var v UTF8
			if !v.Write(p[:1]) || v.Write(p[1:2]) {
				t.Fatalf("surrogate U+%04X (%x) not rejected at its second byte", r, p)
			}
			continue
		}
		buf = utf8.AppendRune(buf[:0], r)
		if !ValidUTF8(buf) {
			t.Fatalf("U+%04X (%x) rejected", r, buf)
		}
		// And split after its first byte.
		var v UTF8
		if !v.Write(buf[:1]) || !v.Write(buf[1:]) || !v.Complete() {
			t.Fatalf("U+%04X (%x) split after its first byte rejected", r, buf)
		}
	}
	// Every possible first byte, alone and followed by each byte.
	for a := range 256 {
		for b := range 256 {
			checkUTF8(t, "two bytes", []byte{byte(a), byte(b)}, false)
		}
	}
}

func TestUTF8Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Bytes that matter most: ASCII, each class of lead byte, each edge of
	// the continuation ranges, and impossible bytes.
	alphabet := []byte{'a', 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff}
	for i := range 6000 {
		n := rng.IntN(24)
		p := make([]byte, n)
		for j := range p {
			if rng.IntN(4) == 0 {
				p[j] = byte(rng.Uint32())
			} else {
				p[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		checkUTF8(t, fmt.Sprintf("random %d", i), p, n <= 12)
	}
	// Long valid texts of random characters, with one byte changed.
	for i := range 200 {
		var p []byte
		for range rng.IntN(200) {
			switch rng.IntN(4) {
			case 0:
				p = append(p, strings.Repeat("x", rng.IntN(40))...)
			default:
				r := rune(rng.IntN(utf8.MaxRune + 1))
				if !utf8.ValidRune(r) {
					r = 'y'
				}
				p = utf8.AppendRune(p, r)
			}
		}
		checkUTF8(t, fmt.Sprintf("valid text %d", i), p, false)
		if len(p) > 0 {
			p[rng.IntN(len(p))] = alphabet[rng.IntN(len(alphabet))]
			checkUTF8(t, fmt.Sprintf("edited text %d", i), p, false)
		}
	}
}
