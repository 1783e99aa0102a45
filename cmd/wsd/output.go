//go:build !js

package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// printer writes what the client sends and receives in the -output
// format. Its methods are safe for concurrent use.
type printer struct {
	mu     sync.Mutex
	w      io.Writer
	format string      // text, ndjson or raw
	pretty bool        // indent JSON text messages (text format)
	prefix string      // before each received message in text format, "< " on a terminal
	editor *lineEditor // if set, messages are printed above the line being typed
}

// event is one line of ndjson output.
type event struct {
	Time   string `json:"time"`
	Dir    string `json:"dir"` // "in" or "out"
	Type   string `json:"type"`
	Size   int    `json:"size"`
	Text   string `json:"text,omitempty"`
	Data   []byte `json:"data,omitempty"` // base64 in JSON
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func validFormat(f string) bool { return f == "text" || f == "ndjson" || f == "raw" }

// message prints a text or binary message; dir is "in" or "out". Only
// ndjson shows what was sent.
func (p *printer) message(dir string, text bool, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dir == "in" && p.editor != nil {
		p.editor.hide()
		defer p.editor.show()
	}
	switch {
	case p.format == "ndjson":
		e := event{Dir: dir, Type: "binary", Size: len(data)}
		if text {
			e.Type, e.Text = "text", string(data)
		} else {
			e.Data = data
		}
		p.event(e)
	case dir == "out":
	case p.format == "raw":
		p.w.Write(data)
	case text:
		if p.pretty && json.Valid(data) {
			var b bytes.Buffer
			if json.Indent(&b, data, "", "  ") == nil {
				data = b.Bytes()
			}
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, data)
	default:
		const show = 64
		more := ""
		if len(data) > show {
			more = "…"
		}
		fmt.Fprintf(p.w, "%sbinary %d bytes: %s%s\n", p.prefix, len(data), hex.EncodeToString(data[:min(len(data), show)]), more)
	}
}

// control records a ping, pong or close frame in ndjson output; other
// formats leave them to -v.
func (p *printer) control(dir, typ string, payload []byte, code int, reason string) {
	if p.format != "ndjson" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := event{Dir: dir, Type: typ, Size: len(payload), Code: code, Reason: reason}
	if typ == "close" {
		e.Size = 0
		if code != 0 {
			e.Size = 2 + len(reason)
		}
	} else if utf8.Valid(payload) {
		e.Text = string(payload)
	} else {
		e.Data = payload
	}
	p.event(e)
}

func (p *printer) event(e event) {
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	p.w.Write(append(b, '\n'))
}

// log writes a line of diagnostics, in turn with the messages.
func (p *printer) log(w io.Writer, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.editor != nil {
		p.editor.hide()
		defer p.editor.show()
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// attach prints messages above the line being typed in e.
func (p *printer) attach(e *lineEditor) {
	p.mu.Lock()
	p.editor = e
	p.mu.Unlock()
}

// detach stops redrawing the line being typed, once input is over.
func (p *printer) detach() {
	p.mu.Lock()
	if p.editor != nil {
		p.editor.hide()
		p.editor = nil
	}
	p.mu.Unlock()
}
