package deflate

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{256, 4 << 10, 64 << 10}

// BenchmarkCompress compresses one message per op, going through 256
// different messages of the same kind of text (so that no message repeats
// within the window), with the compressor a connection has in each mode:
// a pooled writer reset for each message, or a kept one (context
// takeover). The ratio is compressed/original size.
func BenchmarkCompress(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("takeover=%v/%d", takeover, n), func(b *testing.B) {
				msgs := make([][]byte, 256)
				for i := range msgs {
					msgs[i] = text(n, uint64(i+1))
				}
				c := NewCompressor(DefaultLevel, 15, takeover)
				defer c.Release()
				var out countWriter
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if err := c.Compress(&out, msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(out)/float64(b.N)/float64(n), "ratio")
			})
		}
	}
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkDecompress inflates one message per op into a reused buffer,
// with a pooled reader, and with takeover also the window kept between
// messages.
func BenchmarkDecompress(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("takeover=%v/%d", takeover, n), func(b *testing.B) {
				c := NewCompressor(6, 15, false)
				var zs [][]byte
				for i := range 3 {
					var z bytes.Buffer
					c.Compress(&z, text(n, uint64(i+1)))
					zs = append(zs, bytes.TrimSuffix(z.Bytes(), Tail[:]))
				}
				d := NewDecompressor(15, takeover)
				dst := make([]byte, 0, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					out, err := d.Decompress(dst[:0], zs[i%3], 1<<20)
					if err != nil || len(out) != n {
						b.Fatal(len(out), err)
					}
				}
			})
		}
	}
}
