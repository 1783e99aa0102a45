package proto

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
)

// RFC 6455 section 5.2: the payload length uses the 7-bit form up to 125,
// the 16-bit form up to 65535 and the 64-bit form above, and "the minimal
// number of bytes MUST be used to encode the length".
func TestAppendHeaderMinimalLength(t *testing.T) {
	tests := []struct {
		length int64
		want   string // hex of the header, unmasked, FIN + binary
	}{
		{0, "8200"},
		{1, "8201"},
		{125, "827d"},
		{126, "827e007e"},
		{127, "827e007f"},
		{65535, "827effff"},
		{65536, "827f0000000000010000"},
		{1 << 32, "827f0000000100000000"},
		{math.MaxInt64, "827f7fffffffffffffff"},
	}
	for _, tt := range tests {
		got := AppendHeader(nil, Header{Fin: true, Op: OpBinary, Length: tt.length})
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("AppendHeader(length %d) = %x, want %s", tt.length, got, tt.want)
		}
		key := [4]byte{1, 2, 3, 4}
		masked := AppendHeader(nil, Header{Fin: true, Op: OpBinary, Masked: true, Key: key, Length: tt.length})
		want, _ := hex.DecodeString(tt.want)
		want[1] |= 0x80
		want = append(want, key[:]...)
		if !bytes.Equal(masked, want) {
			t.Errorf("AppendHeader(masked, length %d) = %x, want %x", tt.length, masked, want)
		}
	}
}

// Every header that AppendHeader writes is read back the same by
// ParseHeader, with the size it was written with.
func TestHeaderRoundTrip(t *testing.T) {
	lengths := []int64{0, 1, 2, 124, 125, 126, 127, 128, 255, 256, 1000, 65534, 65535, 65536, 65537, 1 << 20, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	ops := []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong, 3, 7, 0xb, 0xf}
	for _, length := range lengths {
		for _, op := range ops {
			for _, rsv := range []byte{0, RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3} {
				for _, fin := range []bool{false, true} {
					for _, masked := range []bool{false, true} {
						h := Header{Fin: fin, Rsv: rsv, Op: op, Masked: masked, Length: length}
						if masked {
							h.Key = [4]byte{0xde, 0xad, byte(length), byte(op)}
						}
						enc := AppendHeader([]byte("pre"), h)
						if string(enc[:3]) != "pre" {
							t.Fatalf("AppendHeader clobbered dst: %q", enc[:3])
						}
						enc = enc[3:]
						wantSize := 2
						switch {
						case length > 65535:
							wantSize += 8
						case length > 125:
							wantSize += 2
						}
						if masked {
							wantSize += 4
						}
						if len(enc) != wantSize {
							t.Fatalf("%+v: header is %d bytes, want %d", h, len(enc), wantSize)
						}
						got, n, err := ParseHeader(append(enc, "payload"...))
						if err != nil || n != len(enc) || got != h {
							t.Fatalf("ParseHeader(AppendHeader(%+v)) = %+v, %d, %v; want the same header, %d, nil", h, got, n, err, len(enc))
						}
						// Every strict prefix is incomplete.
						for i := range len(enc) {
							if _, n, err := ParseHeader(enc[:i]); n != 0 || err != nil {
								t.Fatalf("ParseHeader(%x) = n %d, %v; want 0, nil (incomplete)", enc[:i], n, err)
							}
						}
					}
				}
			}
		}
	}
}

// A receiver reads the length in whatever form it was sent; only the
// sender is bound to the minimal form.
func TestParseHeaderNonMinimalLength(t *testing.T) {
	tests := []struct {
		hex    string
		length int64
		n      int
	}{
		{"827e0005", 5, 4},
		{"827f0000000000000005", 5, 10},
		{"827f000000000000ffff", 65535, 10},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		h, n, err := ParseHeader(b)
		if err != nil || n != tt.n || h.Length != tt.length {
			t.Errorf("ParseHeader(%s) = length %d, n %d, %v; want %d, %d, nil", tt.hex, h.Length, n, err, tt.length, tt.n)
		}
	}
}

// RFC 6455 section 5.2: "the most significant bit MUST be 0" in the
// 64-bit length.
func TestParseHeaderLengthMSB(t *testing.T) {
	for _, h := range []string{"827f8000000000000000", "827fffffffffffffffff", "82ff800000000000000001020304"} {
		b, _ := hex.DecodeString(h)
		_, n, err := ParseHeader(b)
		if err == nil {
			t.Errorf("ParseHeader(%s) accepted a length with the MSB set", h)
		}
		if n != len(b) {
			t.Errorf("ParseHeader(%s) n = %d, want %d", h, n, len(b))
		}
	}
}

// The examples of RFC 6455 section 5.7, byte for byte.
func TestRFCExamples(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("encode", func(t *testing.T) {
		srv := NewMachine(Config{Role: Server})
		if got, want := srv.AppendFrame(nil, OpText, true, 0, []byte("Hello")), unhex("810548656c6c6f"); !bytes.Equal(got, want) {
			t.Errorf("unmasked Hello = %x, want %x", got, want)
		}
		if got, want := srv.AppendFrame(nil, OpText, false, 0, []byte("Hel")), unhex("010348656c"); !bytes.Equal(got, want) {
			t.Errorf("first fragment = %x, want %x", got, want)
		}
		if got, want := srv.AppendFrame(nil, OpContinuation, true, 0, []byte("lo")), unhex("80026c6f"); !bytes.Equal(got, want) {
			t.Errorf("last fragment = %x, want %x", got, want)
		}
		if got, want := srv.AppendFrame(nil, OpPong, true, 0, []byte("Hello")), unhex("8a0548656c6c6f"); !bytes.Equal(got, want) {
			t.Errorf("unmasked pong = %x, want %x", got, want)
		}
		key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
		got := AppendHeader(nil, Header{Fin: true, Op: OpText, Masked: true, Key: key, Length: 5})
		start := len(got)
		got = append(got, "Hello"...)
		Mask(key, 0, got[start:])
		if want := unhex("818537fa213d7f9f4d5158"); !bytes.Equal(got, want) {
			t.Errorf("masked Hello = %x, want %x", got, want)
		}
		big := srv.AppendFrame(nil, OpBinary, true, 0, make([]byte, 256))
		if want := unhex("827e0100"); !bytes.Equal(big[:4], want) || len(big) != 4+256 {
			t.Errorf("256-byte binary header = %x (total %d), want %x", big[:4], len(big), want)
		}
		huge := srv.AppendFrame(nil, OpBinary, true, 0, make([]byte, 65536))
		if want := unhex("827f0000000000010000"); !bytes.Equal(huge[:10], want) || len(huge) != 10+65536 {
			t.Errorf("64 KiB binary header = %x (total %d), want %x", huge[:10], len(huge), want)
		}
	})
	t.Run("decode", func(t *testing.T) {
		tests := []struct {
			role Role
			hex  string
			want []event
		}{
			{Client, "810548656c6c6f", []event{msg(OpText, "Hello")}},
			{Server, "818537fa213d7f9f4d5158", []event{msg(OpText, "Hello")}},
			{Client, "010348656c80026c6f", []event{msg(OpText, "Hello")}},
			{Client, "890548656c6c6f", []event{ping("Hello")}},
			{Server, "8a8537fa213d7f9f4d5158", []event{pong("Hello")}},
		}
		for _, tt := range tests {
			got := feedAll(t, NewMachine(Config{Role: tt.role}), unhex(tt.hex), nil)
			if !eventsEqual(got, tt.want) {
				t.Errorf("role %d, %s: events %v, want %v", tt.role, tt.hex, got, tt.want)
			}
		}
	})
}
