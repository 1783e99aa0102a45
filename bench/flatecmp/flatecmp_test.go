package flatecmp

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	kpflate "github.com/klauspost/compress/flate"
)

// payload returns n bytes of JSON-like text, the typical WebSocket
// message: repetitive keys, varying values.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"user", "price", "quantity", "timestamp", "status", "ok", "pending", "symbol", "BTC-USD", "ETH-USD", "side", "buy", "sell"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"%s":"%s","%s":%d.%02d,"%s":%d},`, words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000), r.IntN(100), words[r.IntN(len(words))], r.Int64())
	}
	return b.Bytes()[:n]
}

type flusher interface {
	io.Writer
	Flush() error
	Reset(io.Writer)
}

var sizes = []int{256, 4 << 10, 64 << 10}

// distinct returns 256 different messages of n bytes: with context
// takeover, later messages share vocabulary with earlier ones, as in a
// real stream, but no message repeats within a 32 KiB window.
func distinct(n int) [][]byte {
	msgs := make([][]byte, 256)
	for i := range msgs {
		msgs[i] = payload(n, uint64(i+1))
	}
	return msgs
}

type impl struct {
	name string
	new  func(level int) flusher
}

var impls = []impl{
	{"std", func(level int) flusher { w, _ := stdflate.NewWriter(nil, level); return w }},
	{"klauspost", func(level int) flusher { w, _ := kpflate.NewWriter(nil, level); return w }},
}

// BenchmarkCompress compresses one message per op with a writer kept
// across messages (context takeover): Write, Flush.
func BenchmarkCompress(b *testing.B) {
	for _, im := range impls {
		for _, level := range []int{1, 6} {
			for _, n := range sizes {
				b.Run(fmt.Sprintf("%s/level%d/%d", im.name, level, n), func(b *testing.B) {
					msgs := distinct(n)
					var out bytes.Buffer
					w := im.new(level)
					w.Reset(&out)
					b.SetBytes(int64(n))
					b.ReportAllocs()
					total := 0
					for i := 0; b.Loop(); i++ {
						out.Reset()
						w.Write(msgs[i%len(msgs)])
						w.Flush()
						total += out.Len()
					}
					b.ReportMetric(float64(total)/float64(b.N)/float64(n), "ratio")
				})
			}
		}
	}
}

// BenchmarkCompressReset compresses one message per op with a writer that
// is reset first (no context takeover, pooled writer).
func BenchmarkCompressReset(b *testing.B) {
	for _, im := range impls {
		for _, level := range []int{1, 6} {
			for _, n := range sizes {
				b.Run(fmt.Sprintf("%s/level%d/%d", im.name, level, n), func(b *testing.B) {
					msgs := distinct(n)
					var out bytes.Buffer
					w := im.new(level)
					b.SetBytes(int64(n))
					b.ReportAllocs()
					total := 0
					for i := 0; b.Loop(); i++ {
						out.Reset()
						w.Reset(&out)
						w.Write(msgs[i%len(msgs)])
						w.Flush()
						total += out.Len()
					}
					b.ReportMetric(float64(total)/float64(b.N)/float64(n), "ratio")
				})
			}
		}
	}
	// Stateless: klauspost's encoder without kept state, which can still
	// compress against a dictionary (the last 8 KiB sent).
	for _, n := range sizes {
		b.Run(fmt.Sprintf("klauspost-stateless/dict/%d", n), func(b *testing.B) {
			msgs := distinct(n)
			var out bytes.Buffer
			b.SetBytes(int64(n))
			b.ReportAllocs()
			total := 0
			for i := 0; b.Loop(); i++ {
				out.Reset()
				dict := msgs[(i+len(msgs)-1)%len(msgs)]
				kpflate.StatelessDeflate(&out, msgs[i%len(msgs)], false, dict[max(0, len(dict)-8<<10):])
				total += out.Len()
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(n), "ratio")
		})
	}
}

type byteSource struct {
	p []byte
	i int
}

func (s *byteSource) Read(b []byte) (int, error) {
	if s.i == len(s.p) {
		return 0, io.EOF
	}
	n := copy(b, s.p[s.i:])
	s.i += n
	return n, nil
}

func (s *byteSource) ReadByte() (byte, error) {
	if s.i == len(s.p) {
		return 0, io.EOF
	}
	s.i++
	return s.p[s.i-1], nil
}

var tail = []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}

// BenchmarkInflate inflates one message per op with a reader reset per
// message, with the previous message as dictionary (context takeover as a
// pooled reader does it).
func BenchmarkInflate(b *testing.B) {
	type rimpl struct {
		name string
		new  func() io.ReadCloser
	}
	for _, im := range []rimpl{
		{"std", func() io.ReadCloser { return stdflate.NewReader(bytes.NewReader(nil)) }},
		{"klauspost", func() io.ReadCloser { return kpflate.NewReader(bytes.NewReader(nil)) }},
	} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				msg := payload(n, 1)
				var out bytes.Buffer
				w, _ := stdflate.NewWriter(&out, 6)
				w.Write(msg)
				w.Flush()
				comp := append(bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff}), tail...)
				r := im.new()
				dst := make([]byte, n+1)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var src byteSource
				for b.Loop() {
					src = byteSource{p: comp}
					r.(stdflate.Resetter).Reset(&src, nil)
					k, err := io.ReadFull(r, dst)
					if k != n || err != io.ErrUnexpectedEOF {
						b.Fatal(k, err)
					}
				}
			})
		}
	}
}

// TestMemoryPerContext measures the heap kept by one compression or
// decompression context after it has handled one small message.
func TestMemoryPerContext(t *testing.T) {
	const n = 100
	msg := payload(1024, 1)
	measure := func(name string, mk func() any) {
		keep := make([]any, n)
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i := range keep {
			keep[i] = mk()
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		t.Logf("%-28s %8.1f KiB per context", name, float64(m1.HeapAlloc-m0.HeapAlloc)/n/1024)
		runtime.KeepAlive(keep)
	}
	for _, level := range []int{1, 6} {
		measure(fmt.Sprintf("std writer level %d", level), func() any {
			w, _ := stdflate.NewWriter(io.Discard, level)
			w.Write(msg)
			w.Flush()
			return w
		})
		measure(fmt.Sprintf("klauspost writer level %d", level), func() any {
			w, _ := kpflate.NewWriter(io.Discard, level)
			w.Write(msg)
			w.Flush()
			return w
		})
	}
	var out bytes.Buffer
	w, _ := stdflate.NewWriter(&out, 6)
	w.Write(msg)
	w.Flush()
	comp := append(bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff}), tail...)
	measure("std reader", func() any {
		r := stdflate.NewReader(&byteSource{p: comp})
		io.Copy(io.Discard, r)
		return r
	})
	measure("klauspost reader", func() any {
		r := kpflate.NewReader(&byteSource{p: comp})
		io.Copy(io.Discard, r)
		return r
	})
}
