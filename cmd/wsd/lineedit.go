//go:build !js

package main

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"unicode"
)

// lineEditor reads lines from a terminal in raw mode, with the editing
// keys of a shell: arrows, Home/End, Backspace/Delete, Ctrl-A/E/B/F,
// Ctrl-U/K/W, and history on Up/Down. Ctrl-D on an empty line ends the
// input. Messages printed meanwhile go above the line being typed.
type lineEditor struct {
	in      *bufio.Reader
	out     io.Writer
	mu      *sync.Mutex // the printer's: one writer to the terminal at a time
	restore func()
	prompt  string
	line    []rune
	pos     int
	history [][]rune
}

// newLineEditor puts the terminal f into raw mode; call restore when done.
func newLineEditor(f *os.File, out io.Writer, mu *sync.Mutex) (*lineEditor, error) {
	restore, err := makeRaw(f)
	if err != nil {
		return nil, err
	}
	return &lineEditor{in: bufio.NewReader(f), out: out, mu: mu, restore: restore, prompt: "> "}, nil
}

// hide clears the line being typed, so that a message can be printed; the
// caller holds mu.
func (e *lineEditor) hide() { io.WriteString(e.out, "\r\033[K") }

// show redraws the prompt and the line, with the cursor in its place; the
// caller holds mu.
func (e *lineEditor) show() {
	fmt.Fprintf(e.out, "\r\033[K%s%s", e.prompt, string(e.line))
	if back := len(e.line) - e.pos; back > 0 {
		fmt.Fprintf(e.out, "\033[%dD", back)
	}
}

// lines yields each line typed, until Ctrl-D on an empty line or the end
// of the input.
func (e *lineEditor) lines() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for {
			line, ok := e.readLine()
			if !ok || !yield([]byte(line)) {
				return
			}
		}
	}
}

func (e *lineEditor) readLine() (string, bool) {
	e.mu.Lock()
	e.line, e.pos = nil, 0
	e.show()
	e.mu.Unlock()
	hist := len(e.history) // index in history; len means the new line
	for {
		r, _, err := e.in.ReadRune()
		if err != nil {
			return "", false
		}
		e.mu.Lock()
		switch r {
		case '\r', '\n':
			line := string(e.line)
			if line != "" {
				e.history = append(e.history, e.line)
			}
			io.WriteString(e.out, "\r\n")
			e.line = nil
			e.mu.Unlock()
			return line, true
		case 4: // Ctrl-D
			if len(e.line) == 0 {
				io.WriteString(e.out, "\r\n")
				e.mu.Unlock()
				return "", false
			}
			e.deleteAt(e.pos)
		case 1: // Ctrl-A
			e.pos = 0
		case 5: // Ctrl-E
			e.pos = len(e.line)
		case 2: // Ctrl-B
			e.pos = max(e.pos-1, 0)
		case 6: // Ctrl-F
			e.pos = min(e.pos+1, len(e.line))
		case 0x7f, 8: // Backspace
			if e.pos > 0 {
				e.pos--
				e.deleteAt(e.pos)
			}
		case 0x15: // Ctrl-U
			e.line = append([]rune(nil), e.line[e.pos:]...)
			e.pos = 0
		case 0x0b: // Ctrl-K
			e.line = e.line[:e.pos]
		case 0x17: // Ctrl-W
			start := e.pos
			for start > 0 && unicode.IsSpace(e.line[start-1]) {
				start--
			}
			for start > 0 && !unicode.IsSpace(e.line[start-1]) {
				start--
			}
			e.line = append(e.line[:start], e.line[e.pos:]...)
			e.pos = start
		case 0x1b:
			switch e.escape() {
			case 'A': // Up
				if hist > 0 {
					hist--
					e.setLine(e.history[hist])
				}
			case 'B': // Down
				if hist < len(e.history) {
					hist++
					if hist == len(e.history) {
						e.setLine(nil)
					} else {
						e.setLine(e.history[hist])
					}
				}
			case 'C': // Right
				e.pos = min(e.pos+1, len(e.line))
			case 'D': // Left
				e.pos = max(e.pos-1, 0)
			case 'H': // Home
				e.pos = 0
			case 'F': // End
				e.pos = len(e.line)
			case '3': // Delete
				e.deleteAt(e.pos)
			}
		default:
			if unicode.IsPrint(r) || r == '\t' {
				e.line = append(e.line[:e.pos], append([]rune{r}, e.line[e.pos:]...)...)
				e.pos++
			}
		}
		e.show()
		e.mu.Unlock()
	}
}

func (e *lineEditor) setLine(l []rune) {
	e.line = append([]rune(nil), l...)
	e.pos = len(e.line)
}

func (e *lineEditor) deleteAt(i int) {
	if i < len(e.line) {
		e.line = append(e.line[:i], e.line[i+1:]...)
	}
}

// escape reads the rest of an escape sequence and returns its key: the
// final letter of ESC [ x or ESC O x, or the number of ESC [ n ~ (1 and 7
// are Home, 4 and 8 End, 3 Delete).
func (e *lineEditor) escape() byte {
	b, err := e.in.ReadByte()
	if err != nil || (b != '[' && b != 'O') {
		return 0
	}
	var num byte
	for {
		c, err := e.in.ReadByte()
		switch {
		case err != nil:
			return 0
		case c >= '0' && c <= '9':
			if num == 0 {
				num = c
			}
		case c == '~':
			switch num {
			case '1', '7':
				return 'H'
			case '4', '8':
				return 'F'
			}
			return num
		case c >= 0x40 && c <= 0x7e:
			return c
		}
	}
}
