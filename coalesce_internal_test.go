//go:build !js

package wsd

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/wsd-go/wsd/internal/proto"
)

// writeRecorder is a net.Conn that records each Write it gets.
type writeRecorder struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *writeRecorder) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

// Replies to frames that arrived together leave in one write, in order,
// pongs included; a lone frame's reply leaves at once, as before.
func TestRepliesToABatchLeaveInOneWrite(t *testing.T) {
	cc := &writeRecorder{}
	c := newConn(proto.Server, nil)
	c.nc = cc
	c.state.Store(int32(Open))
	c.OnMessage(func(m Message) { c.SendText("re:" + string(m.Data)) })

	var in []byte
	for _, s := range []string{"a", "b", "c"} {
		in = append(in, maskedFrame(byte(proto.OpText), []byte(s))...)
	}
	in = append(in, maskedFrame(byte(proto.OpPing), []byte("p"))...)
	in = append(in, maskedFrame(byte(proto.OpText), []byte("d"))...)
	if c.feed(in) {
		t.Fatal("feed ended the connection")
	}
	var want []byte
	for _, f := range []struct {
		op proto.Opcode
		s  string
	}{{proto.OpText, "re:a"}, {proto.OpText, "re:b"}, {proto.OpText, "re:c"}, {proto.OpPong, "p"}, {proto.OpText, "re:d"}} {
		want = c.m.AppendFrame(want, f.op, true, 0, []byte(f.s))
	}
	if len(cc.writes) != 1 || !bytes.Equal(cc.writes[0], want) {
		t.Fatalf("%d writes %q, want one: %q", len(cc.writes), cc.writes, want)
	}

	cc.writes = nil
	c.feed(maskedFrame(byte(proto.OpText), []byte("e")))
	if len(cc.writes) != 1 {
		t.Fatalf("a lone frame's reply took %d writes", len(cc.writes))
	}
}
