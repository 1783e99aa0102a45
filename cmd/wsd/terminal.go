package main

import (
	"io"
	"iter"
	"sync"
)

// terminalLines yields the lines typed on the terminal r.
func terminalLines(r io.Reader, w io.Writer, mu *sync.Mutex) iter.Seq[[]byte] {
	return lineReader(r)
}
