package proto

import (
	"bytes"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

var benchSizes = []int{16, 128, 1 << 10, 4 << 10, 64 << 10, 1 << 20}

// frames returns count masked binary frames of size n, as a client sends.
func frames(n, count int) []byte {
	c := NewMachine(Config{Role: Client})
	payload := bytes.Repeat([]byte{'x'}, n)
	var out []byte
	for range count {
		out = c.AppendFrame(out, OpBinary, true, 0, payload)
	}
	return out
}

func BenchmarkParse(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			count := max(1, (256<<10)/n)
			in := frames(n, count)
			m := NewMachine(Config{Role: Server})
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				p := in
				for len(p) > 0 && i < b.N {
					k, ev := m.Feed(p)
					p = p[k:]
					if ev.Kind != EventMessage || len(ev.Data) != n {
						b.Fatalf("event %v", ev.Kind)
					}
					i++
				}
			}
		})
	}
}

// BenchmarkParseSplit feeds frames in 1000-byte reads, so payloads cross
// read boundaries and take the copying path.
func BenchmarkParseSplit(b *testing.B) {
	for _, n := range []int{1 << 10, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			in := frames(n, 64)
			m := NewMachine(Config{Role: Server})
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				for p := in; len(p) > 0 && i < b.N; {
					chunk := p[:min(1000, len(p))]
					p = p[len(chunk):]
					for len(chunk) > 0 {
						k, ev := m.Feed(chunk)
						chunk = chunk[k:]
						if ev.Kind == EventMessage {
							i++
						}
						m.Recycle()
					}
				}
			}
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, role := range []Role{Server, Client} {
		name := map[Role]string{Server: "server", Client: "client"}[role]
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				m := NewMachine(Config{Role: role})
				payload := make([]byte, n)
				buf := make([]byte, 0, n+MaxHeaderSize)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					buf = m.AppendFrame(buf[:0], OpBinary, true, 0, payload)
				}
			})
		}
	}
}

// copyRatio reports how the throughput of f over buf compares with copy()
// of the same buffer, timed in the same run over the same iterations.
func copyRatio(b *testing.B, buf []byte, f func()) {
	dst := make([]byte, len(buf))
	start := time.Now()
	for range b.N {
		copy(dst, buf)
	}
	copyTime := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for range b.N {
		f()
	}
	fTime := time.Since(start)
	b.StopTimer()
	if fTime > 0 {
		b.ReportMetric(float64(copyTime)/float64(fTime), "x-copy")
	}
}

func BenchmarkMask(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			buf := make([]byte, n)
			key := [4]byte{1, 2, 3, 4}
			b.SetBytes(int64(n))
			copyRatio(b, buf, func() { Mask(key, 1, buf) })
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	inputs := map[string][]byte{
		"ascii": bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 1500),
		"mixed": bytes.Repeat([]byte("Größe κόσμε 日本語 text, 🎉 and plain words. "), 1000),
	}
	for _, name := range []string{"ascii", "mixed"} {
		in := inputs[name]
		b.Run(name+"/wsd", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			// Ratio to the standard library's validator, same run.
			start := time.Now()
			for range b.N {
				utf8.Valid(in)
			}
			std := time.Since(start)
			var ok bool
			copyRatio(b, in, func() { ok = ValidUTF8(in) })
			if !ok {
				b.Fatal("invalid")
			}
			if el := b.Elapsed(); el > 0 {
				b.ReportMetric(float64(std)/float64(el), "x-utf8.Valid")
			}
		})
		b.Run(name+"/utf8.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				utf8.Valid(in)
			}
		})
	}
}

var utf8Valid = utf8.Valid
