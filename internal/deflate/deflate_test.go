package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/wsd-go/wsd/internal/proto"
)

// compress runs c on p and strips the tail, as a sender does.
func compress(t testing.TB, c *Compressor, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := c.Compress(&b, p); err != nil {
		t.Fatal(err)
	}
	out, ok := bytes.CutSuffix(b.Bytes(), Tail[:])
	if !ok {
		t.Fatalf("compressed output % x does not end with the tail", b.Bytes())
	}
	return out
}

// text returns n bytes of compressible text.
func text(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "permessage", "deflate", "window", "{\"key\":", "42}", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The examples of RFC 7692 section 7.2.3, as payloads.
var (
	helloFixed    = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}                         // 7.2.3.1
	helloTakeover = []byte{0xf2, 0x00, 0x11, 0x00, 0x00}                                     // 7.2.3.2, second message
	helloStored   = []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00} // 7.2.3.3
	helloFinal    = []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}                   // 7.2.3.4
)

func TestRFCExamples(t *testing.T) {
	tests := []struct {
		name     string
		takeover bool
		msgs     [][]byte
	}{
		{"fixed huffman", false, [][]byte{helloFixed}},
		{"takeover", true, [][]byte{helloFixed, helloTakeover}},
		{"no compression", false, [][]byte{helloStored}},
		{"bfinal", false, [][]byte{helloFinal}},
		{"bfinal then takeover", true, [][]byte{helloFinal, helloTakeover}},
		{"empty payload", false, [][]byte{{}}},
		{"empty block", false, [][]byte{{0x00}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(15, tt.takeover)
			for i, m := range tt.msgs {
				want := "Hello"
				if len(m) <= 1 {
					want = ""
				}
				got, err := d.Decompress(nil, m, 100)
				if err != nil || string(got) != want {
					t.Fatalf("message %d: got %q, %v; want %q", i, got, err, want)
				}
			}
		})
	}
	// Without takeover the second message's back-reference has nothing to
	// point at.
	d := NewDecompressor(15, false)
	d.Decompress(nil, helloFixed, 100)
	if _, err := d.Decompress(nil, helloTakeover, 100); !errors.Is(err, ErrCorrupt) {
		t.Errorf("back-reference without takeover: got %v, want ErrCorrupt", err)
	}
}

func TestCompressHello(t *testing.T) {
	// At level 6 the standard library encodes "Hello" as RFC 7692
	// section 7.2.3.1 shows.
	if got := compress(t, NewCompressor(6, 15, false), []byte("Hello")); !bytes.Equal(got, helloFixed) {
		t.Errorf("level 6: got % x, want % x", got, helloFixed)
	}
	// At level 1 a message that short is stored, as in section 7.2.3.3.
	if got := compress(t, NewCompressor(1, 15, false), []byte("Hello")); !bytes.Equal(got, helloStored) {
		t.Errorf("level 1: got % x, want % x", got, helloStored)
	}
	// With takeover the second "Hello" is a back-reference into the first.
	c := NewCompressor(6, 15, true)
	defer c.Release()
	first, second := compress(t, c, []byte("Hello")), compress(t, c, []byte("Hello"))
	if len(second) >= len(first) {
		t.Errorf("second message % x is no shorter than the first % x", second, first)
	}
	d := NewDecompressor(15, true)
	for _, m := range [][]byte{first, second} {
		if got, err := d.Decompress(nil, m, 100); err != nil || string(got) != "Hello" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	// An empty message is a single empty stored block, as in 7.2.3.6.
	if got := compress(t, NewCompressor(1, 15, false), nil); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("empty message: got % x, want 00", got)
	}
}

// TestRoundTrip compresses and inflates messages of many sizes in every
// mode: each window size, with and without context takeover, at several
// levels.
func TestRoundTrip(t *testing.T) {
	msgs := [][]byte{nil, []byte("a"), text(100, 1), text(5000, 2), noise(3000, 3), text(70000, 4), noise(40000, 5), text(200, 1), text(5000, 2)}
	for _, level := range []int{1, 6, 9, flate.HuffmanOnly} {
		for bits := 8; bits <= 15; bits++ {
			for _, takeover := range []bool{false, true} {
				t.Run(fmt.Sprintf("level%d/bits%d/takeover=%v", level, bits, takeover), func(t *testing.T) {
					c := NewCompressor(level, bits, takeover)
					defer c.Release()
					d := NewDecompressor(bits, takeover)
					var buf []byte
					for i, m := range msgs {
						z := compress(t, c, m)
						out, err := d.Decompress(buf[:0], z, 1<<20)
						if err != nil {
							t.Fatalf("message %d: %v", i, err)
						}
						if !bytes.Equal(out, m) {
							t.Fatalf("message %d: round trip differs (%d bytes, want %d)", i, len(out), len(m))
						}
						buf = out
					}
				})
			}
		}
	}
}

// TestWindowRespected checks that a compressor limited to a window never
// refers further back: a decompressor that only knows that much of the
// past inflates its output.
func TestWindowRespected(t *testing.T) {
	m := bytes.Repeat(text(300, 7), 40) // far-reaching repeats
	if checkDistances(compress(t, NewCompressor(9, 15, false), m), 256) == nil {
		t.Fatal("the distance check finds nothing to object to in a full-window stream")
	}
	for bits := 8; bits < 15; bits++ {
		z := compress(t, NewCompressor(9, bits, true), m)
		if err := checkDistances(z, 1<<bits); err != nil {
			t.Errorf("bits %d: %v", bits, err)
		}
		out, err := NewDecompressor(bits, false).Decompress(nil, z, 1<<20)
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("bits %d: round trip failed: %v", bits, err)
		}
	}
}

// TestTooBig is the decompression bomb: a small payload that inflates to
// far more than the limit stops at the limit, with bounded memory.
func TestTooBig(t *testing.T) {
	// A run of complete blocks that ends with a sync flush can be
	// repeated: 1024 copies of 1 MiB of zeros.
	zeros := make([]byte, 1<<20)
	one := append(compress(t, NewCompressor(9, 15, false), zeros), Tail[:]...)
	bomb, _ := bytes.CutSuffix(bytes.Repeat(one, 1<<10), Tail[:])
	t.Logf("bomb: %d bytes inflating to 1 GiB", len(bomb))

	const limit = 1 << 20
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	out, err := NewDecompressor(15, true).Decompress(nil, bomb, limit)
	runtime.ReadMemStats(&m1)
	if !errors.Is(err, proto.ErrTooBig) {
		t.Fatalf("got %v, want ErrTooBig", err)
	}
	if len(out) > limit {
		t.Errorf("produced %d bytes, more than the limit %d", len(out), limit)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 8*limit {
		t.Errorf("allocated %d bytes to refuse the bomb, want at most %d", alloc, 8*limit)
	}

	// Exactly at the limit is fine.
	exact := compress(t, NewCompressor(1, 15, false), zeros[:limit])
	if out, err := NewDecompressor(15, false).Decompress(nil, exact, limit); err != nil || len(out) != limit {
		t.Errorf("message of exactly the limit: %d bytes, %v", len(out), err)
	}
	if _, err := NewDecompressor(15, false).Decompress(nil, exact, limit-1); !errors.Is(err, proto.ErrTooBig) {
		t.Errorf("one byte over the limit: %v, want ErrTooBig", err)
	}
}

func TestCorrupt(t *testing.T) {
	good := compress(t, NewCompressor(6, 15, false), text(2000, 9))
	tests := map[string][]byte{
		"reserved block type": {0xff, 0xff, 0xff},
		"truncated":           good[:len(good)/2],
		"bad stored length":   {0x00, 0x05, 0x00, 0x00, 0x00, 'H'},
		"garbage":             noise(100, 11),
	}
	for name, z := range tests {
		if _, err := NewDecompressor(15, false).Decompress(nil, z, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestReleaseStartsFresh(t *testing.T) {
	c := NewCompressor(1, 15, true)
	d := NewDecompressor(15, true)
	for i := range 3 {
		m := text(1000, 20)
		out, err := d.Decompress(nil, compress(t, c, m), 1<<20)
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("message %d: %v", i, err)
		}
		c.Release()
	}
}
