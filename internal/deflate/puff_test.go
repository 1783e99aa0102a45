package deflate

import (
	"errors"
	"fmt"
)

// checkDistances decodes the DEFLATE stream z (non-final blocks, as a
// message has) with a small decoder after zlib's puff, and reports any
// back-reference further than window bytes. It exists to check what
// compress/flate cannot show: how far back a compressor refers.
func checkDistances(z []byte, window int) error {
	r := &bitReader{p: z}
	for r.pos < 8*len(z)-7 {
		final := r.bits(1)
		typ := r.bits(2)
		var err error
		switch typ {
		case 0:
			r.pos = (r.pos + 7) &^ 7
			if r.pos == 8*len(z) {
				return nil // the closing sync flush, its tail removed
			}
			n := r.bits(16)
			if r.bits(16) != ^n&0xffff {
				return errors.New("bad stored length")
			}
			r.pos += 8 * n
		case 1:
			err = r.codes(fixedLit, fixedDist, window)
		case 2:
			var lit, dist *huffman
			if lit, dist, err = r.dynamic(); err == nil {
				err = r.codes(lit, dist, window)
			}
		default:
			return errors.New("reserved block type")
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
		if final == 1 {
			break
		}
	}
	return nil
}

type bitReader struct {
	p   []byte
	pos int
	err error
}

func (r *bitReader) bits(n int) int {
	v := 0
	for i := range n {
		if r.pos >= 8*len(r.p) {
			r.err = errors.New("out of input")
			return 0
		}
		v |= int(r.p[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v
}

type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) *huffman {
	h := &huffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	for l := 1; l < 16; l++ {
		for s, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, s)
			}
		}
	}
	return h
}

func (r *bitReader) decode(h *huffman) int {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		code |= r.bits(1)
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+code-first]
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	r.err = errors.New("bad code")
	return 0
}

var (
	lenBase  = []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dBase    = []int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dExtra   = []int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	fixedLit, fixedDist = func() (*huffman, *huffman) {
		l := make([]int, 288)
		for i := range l {
			switch {
			case i < 144:
				l[i] = 8
			case i < 256:
				l[i] = 9
			case i < 280:
				l[i] = 7
			default:
				l[i] = 8
			}
		}
		d := make([]int, 30)
		for i := range d {
			d[i] = 5
		}
		return newHuffman(l), newHuffman(d)
	}()
)

func (r *bitReader) codes(lit, dist *huffman, window int) error {
	for r.err == nil {
		s := r.decode(lit)
		switch {
		case s < 256:
		case s == 256:
			return nil
		case s-257 >= len(lenBase):
			return errors.New("bad length symbol")
		default:
			s -= 257
			r.bits(lenExtra[s])
			ds := r.decode(dist)
			if ds >= len(dBase) {
				return errors.New("bad distance symbol")
			}
			if d := dBase[ds] + r.bits(dExtra[ds]); d > window {
				return fmt.Errorf("distance %d exceeds the window of %d", d, window)
			}
		}
	}
	return r.err
}

func (r *bitReader) dynamic() (*huffman, *huffman, error) {
	nlen, ndist, ncode := r.bits(5)+257, r.bits(5)+1, r.bits(4)+4
	order := []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	cl := make([]int, 19)
	for i := range ncode {
		cl[order[i]] = r.bits(3)
	}
	lencode := newHuffman(cl)
	lengths := make([]int, nlen+ndist)
	for i := 0; i < nlen+ndist && r.err == nil; {
		s := r.decode(lencode)
		if s < 16 {
			lengths[i] = s
			i++
			continue
		}
		v, rep := 0, 0
		switch s {
		case 16:
			if i == 0 {
				return nil, nil, errors.New("repeat with no length")
			}
			v, rep = lengths[i-1], 3+r.bits(2)
		case 17:
			rep = 3 + r.bits(3)
		default:
			rep = 11 + r.bits(7)
		}
		for ; rep > 0 && i < len(lengths); rep-- {
			lengths[i] = v
			i++
		}
	}
	return newHuffman(lengths[:nlen]), newHuffman(lengths[nlen:]), r.err
}
