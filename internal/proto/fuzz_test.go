package proto

import (
	"bytes"
	"testing"
)

// events feeds in to a fresh machine in chunks whose sizes come from
// cuts, and returns the events it reported, with their data copied.
func events(t *testing.T, role Role, in []byte, cuts []byte) []Event {
	return feedEvents(t, role, in, cuts, false)
}

// feedEvents is events, reading payloads into the machine's ReadSpace
// when direct is set, as the goroutine transport does.
func feedEvents(t *testing.T, role Role, in []byte, cuts []byte, direct bool) []Event {
	m := NewMachine(Config{Role: role, MaxLength: 1 << 16})
	in = bytes.Clone(in) // Feed unmasks in place
	var evs []Event
	for i := 0; len(in) > 0; i++ {
		k := len(in)
		if len(cuts) > 0 {
			k = min(len(in), int(cuts[i%len(cuts)])+1)
		}
		chunk := in[:k]
		if space := m.ReadSpace(1); direct && space != nil {
			k = min(k, len(space))
			chunk = space[:copy(space, in[:k])]
		}
		in = in[k:]
		for len(chunk) > 0 {
			n, ev := m.Feed(chunk)
			if n == 0 && ev.Kind == EventNone {
				t.Fatalf("Feed made no progress on %d bytes", len(chunk))
			}
			chunk = chunk[n:]
			if ev.Kind != EventNone {
				ev.Data = bytes.Clone(ev.Data)
				evs = append(evs, ev)
			}
		}
	}
	return evs
}

// FuzzFeed checks that any byte stream, in any chunking, gives the same
// events as when fed whole, never panics, and fails only with a close code
// that may be sent.
func FuzzFeed(f *testing.F) {
	c := NewMachine(Config{Role: Client})
	f.Add(c.AppendFrame(nil, OpText, true, 0, []byte("Hello")), []byte{0})
	frag := c.AppendFrame(nil, OpText, false, 0, []byte("Hel"))
	frag = c.AppendFrame(frag, OpPing, true, 0, []byte("p"))
	frag = c.AppendFrame(frag, OpContinuation, true, 0, []byte("lo"))
	f.Add(frag, []byte{2, 5})
	close, _ := c.AppendClose(nil, 1000, "bye")
	f.Add(close, []byte{1})
	f.Add([]byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, []byte{})
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, []byte{3})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		for _, role := range []Role{Server, Client} {
			whole := events(t, role, in, nil)
			split := events(t, role, in, cuts)
			if d := feedEvents(t, role, in, cuts, true); len(d) != len(split) {
				t.Fatalf("%d events split, %d read in place", len(split), len(d))
			} else {
				for i := range d {
					if d[i].Kind != split[i].Kind || !bytes.Equal(d[i].Data, split[i].Data) {
						t.Fatalf("event %d read in place differs: %+v vs %+v", i, d[i], split[i])
					}
				}
			}
			if len(whole) != len(split) {
				t.Fatalf("%d events whole, %d split", len(whole), len(split))
			}
			for i := range whole {
				a, b := whole[i], split[i]
				if a.Kind != b.Kind || a.Op != b.Op || a.Code != b.Code || !bytes.Equal(a.Data, b.Data) || (a.Err == nil) != (b.Err == nil) {
					t.Fatalf("event %d differs: %+v vs %+v", i, a, b)
				}
				if a.Err != nil && a.Err.Code != b.Err.Code {
					t.Fatalf("error %d differs: %v vs %v", i, a.Err, b.Err)
				}
				switch a.Kind {
				case EventError:
					if !ValidCloseCode(a.Err.Code) || i != len(whole)-1 {
						t.Fatalf("bad error event %v at %d of %d", a.Err, i, len(whole))
					}
				case EventMessage:
					if a.Op == OpText && !ValidUTF8(a.Data) {
						t.Fatal("invalid UTF-8 passed as text")
					}
					// A valid message re-encoded parses back the same.
					enc := NewMachine(Config{Role: 1 - role})
					back := events(t, role, enc.AppendFrame(nil, a.Op, true, 0, a.Data), nil)
					if len(back) != 1 || !bytes.Equal(back[0].Data, a.Data) || back[0].Op != a.Op {
						t.Fatalf("message did not round-trip: %+v", back)
					}
				}
			}
		}
	})
}

// FuzzUTF8 checks the incremental validator against the standard library
// at every split.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("κόσμε"), 3)
	f.Add([]byte{0xed, 0xa0, 0x80}, 1)
	f.Add([]byte{0xf4, 0x90, 0x80, 0x80}, 2)
	f.Fuzz(func(t *testing.T, p []byte, cut int) {
		if cut < 0 || cut > len(p) {
			cut = len(p) / 2
		}
		var v UTF8
		got := v.Write(p[:cut]) && v.Write(p[cut:]) && v.Complete()
		if want := utf8Valid(p); got != want {
			t.Fatalf("%x cut %d: got %v, want %v", p, cut, got, want)
		}
	})
}
