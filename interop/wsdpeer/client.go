//go:build !js

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wsd-go/wsd"
)

// What the peers' servers do on their special paths, which the cases
// expect.
const (
	serverCloseCode   = 4000
	serverCloseReason = "bye from peer"
	afterCloseCode    = 4002
	afterCloseReason  = "closing, then more"
	serverPingReply   = "pong:peer-ping"
)

// Unicode is text with 2-, 3- and 4-byte UTF-8 sequences.
const Unicode = "héllo wörld ✓ Ωμέγα 日本語 🎉🚀"

type message struct {
	typ  wsd.MessageType
	data []byte
}

type peerClient struct {
	c        *wsd.Conn
	msgs     chan message
	deadline time.Time
	code     int
	reason   string
	perr     error
}

type check struct {
	protocols []string
	maxLength int
	run       func(p *peerClient) error
	// closes says the case ends the connection itself; otherwise the
	// client closes with 1000 and expects the peer to answer with 1000.
	closes bool
}

var cases = map[string]check{
	"text":    {run: echo(message{wsd.TextMessage, []byte("hello, peer")})},
	"binary":  {run: echo(message{wsd.BinaryMessage, pattern(256)})},
	"empty":   {run: echo(message{wsd.TextMessage, nil}, message{wsd.BinaryMessage, nil})},
	"unicode": {run: echo(message{wsd.TextMessage, []byte(Unicode)})},
	"1mib":    {run: echo(message{wsd.BinaryMessage, pattern(1 << 20)})},
	"16mib":   {run: echo(message{wsd.BinaryMessage, pattern(16 << 20)})},
	"ordered": {run: ordered},
	"ping":    {run: ping},
	"serverping": {run: func(p *peerClient) error {
		return p.expect(message{wsd.TextMessage, []byte(serverPingReply)})
	}},
	"subprotocol": {protocols: []string{"nope", "chat"}, run: func(p *peerClient) error {
		if got := p.c.Protocol(); got != "chat" {
			return fmt.Errorf("protocol %q, want \"chat\"", got)
		}
		return echo(message{wsd.TextMessage, []byte("chat")})(p)
	}},
	"closeclient": {closes: true, run: func(p *peerClient) error {
		if err := p.c.Close(4001, "bye from wsd"); err != nil {
			return err
		}
		return p.expectClose(4001, "bye from wsd")
	}},
	"closeserver": {closes: true, run: func(p *peerClient) error {
		return p.expectClose(serverCloseCode, serverCloseReason)
	}},
	// A text message in three fragments (from Node ws, with a ping between
	// them).
	"fragmented": {run: func(p *peerClient) error {
		return p.expect(message{wsd.TextMessage, []byte("hello fragmented world")})
	}},
	// The peer breaks the protocol: the connection fails with the code
	// that says how, and the error is reported.
	"badutf8": {closes: true, run: protocolError(1007)},
	"masked":  {closes: true, run: protocolError(1002)},
	"toobig":  {closes: true, maxLength: 1024, run: protocolError(1009)},
	// The peer drops the connection without a close frame: right after
	// the handshake, in the middle of a frame, or in the middle of a
	// fragmented message.
	"abrupt": {closes: true, run: func(p *peerClient) error {
		if err := p.expectClose(1006, ""); err != nil {
			return err
		}
		return sendAfterClose(p)
	}},
	// The peer sends a close frame, then a text frame: the text must not
	// be delivered.
	"afterclose": {closes: true, run: func(p *peerClient) error {
		if err := p.expectClose(afterCloseCode, afterCloseReason); err != nil {
			return err
		}
		if n := len(p.msgs); n > 0 {
			return fmt.Errorf("%d messages delivered after the close frame", n)
		}
		return sendAfterClose(p)
	}},
}

func caseNames() string {
	var names []string
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func clientCmd(args []string) int {
	fs := flag.NewFlagSet("wsdpeer client", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for the whole check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(os.Stderr, "%scases: %s\n", usage, caseNames())
		return 2
	}
	ck, ok := cases[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(os.Stderr, "wsdpeer client: unknown case %q; cases: %s\n", fs.Arg(0), caseNames())
		return 2
	}
	if err := runCheck(ck, fs.Arg(1), *timeout); err != nil {
		fmt.Printf("fail: %v\n", err)
		return 1
	}
	fmt.Println("ok")
	return 0
}

func runCheck(ck check, url string, timeout time.Duration) error {
	baseline := runtime.NumGoroutine()
	deadline := time.Now().Add(timeout)
	c, err := wsd.NewClient(url, &wsd.Options{
		AcceptProtocols: ck.protocols,
		MaxLength:       ck.maxLength,
		CloseTimeout:    3 * time.Second,
	})
	if err != nil {
		return err
	}
	p := &peerClient{c: c, msgs: make(chan message, 4096), deadline: deadline}
	c.OnMessage(func(m wsd.Message) {
		p.msgs <- message{m.Type, bytes.Clone(m.Data)}
	})
	c.OnError(func(err error) { p.perr = err })
	c.OnClose(func(code int, reason string) { p.code, p.reason = code, reason })
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err = c.Start(ctx)
	cancel()
	if err != nil {
		return err
	}
	if err := ck.run(p); err != nil {
		c.Close(1000, "")
		p.waitDone()
		return err
	}
	if !ck.closes {
		if err := c.Close(1000, "done"); err != nil {
			return fmt.Errorf("close: %v", err)
		}
		if err := p.expectClose(1000, ""); err != nil {
			return err
		}
	}
	// Nothing of the connection may outlive it.
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines left after the connection closed, %d before it", runtime.NumGoroutine(), baseline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (p *peerClient) waitDone() bool {
	select {
	case <-p.c.Done():
		return true
	case <-time.After(time.Until(p.deadline)):
		return false
	}
}

// recv returns the next message, or an error if the connection closes or
// the time is up first. Messages that arrived before a close are still
// returned.
func (p *peerClient) recv() (message, error) {
	select {
	case m := <-p.msgs:
		return m, nil
	default:
	}
	select {
	case m := <-p.msgs:
		return m, nil
	case <-p.c.Done():
		select {
		case m := <-p.msgs:
			return m, nil
		default:
		}
		if p.perr != nil {
			return message{}, p.perr
		}
		return message{}, fmt.Errorf("connection closed with %d %q while waiting for a message", p.code, p.reason)
	case <-time.After(time.Until(p.deadline)):
		return message{}, errors.New("timed out waiting for a message")
	}
}

func (p *peerClient) expect(want message) error {
	got, err := p.recv()
	if err != nil {
		return err
	}
	return same(got, want)
}

// expectClose waits for the close event and checks its code, and its
// reason when want is not "".
func (p *peerClient) expectClose(code int, reason string) error {
	if !p.waitDone() {
		return fmt.Errorf("timed out waiting for the close (want %d)", code)
	}
	if p.code != code || (reason != "" && p.reason != reason) {
		return fmt.Errorf("closed with %d %q, want %d %q", p.code, p.reason, code, reason)
	}
	return nil
}

func same(got, want message) error {
	if got.typ != want.typ {
		return fmt.Errorf("got a %v message, want %v", got.typ, want.typ)
	}
	if !bytes.Equal(got.data, want.data) {
		return fmt.Errorf("got %d bytes %s, want %d bytes %s", len(got.data), brief(got.data), len(want.data), brief(want.data))
	}
	return nil
}

func brief(b []byte) string {
	if len(b) > 32 {
		return fmt.Sprintf("%q...", b[:32])
	}
	return fmt.Sprintf("%q", b)
}

// pattern returns n bytes that are not all alike, so that a misplaced
// chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// echo sends each message, then expects each back in order.
func echo(msgs ...message) func(p *peerClient) error {
	return func(p *peerClient) error {
		for _, m := range msgs {
			if err := p.c.Send(m.data, wsd.SendOptions{Type: m.typ}); err != nil {
				return fmt.Errorf("send: %v", err)
			}
		}
		for i, m := range msgs {
			if err := p.expect(m); err != nil {
				if len(msgs) > 1 {
					return fmt.Errorf("message %d: %v", i+1, err)
				}
				return err
			}
		}
		return nil
	}
}

func ordered(p *peerClient) error {
	const n = 1000
	for i := range n {
		if err := p.c.SendText(fmt.Sprintf("message %d", i)); err != nil {
			return fmt.Errorf("send %d: %v", i, err)
		}
	}
	for i := range n {
		if err := p.expect(message{wsd.TextMessage, fmt.Appendf(nil, "message %d", i)}); err != nil {
			return fmt.Errorf("message %d of %d: %v", i+1, n, err)
		}
	}
	return nil
}

func ping(p *peerClient) error {
	pong := make(chan struct{})
	if err := p.c.SendPing([]byte("wsd-ping-42"), func() { close(pong) }); err != nil {
		return err
	}
	select {
	case <-pong:
		return nil
	case <-p.c.Done():
		return fmt.Errorf("closed with %d %q before the pong", p.code, p.reason)
	case <-time.After(time.Until(p.deadline)):
		return errors.New("timed out waiting for the pong")
	}
}

// protocolError expects the connection to fail with code.
func protocolError(code int) func(p *peerClient) error {
	return func(p *peerClient) error {
		if err := p.expectClose(code, ""); err != nil {
			return err
		}
		var perr *wsd.ProtocolError
		if !errors.As(p.perr, &perr) || perr.Code != code {
			return fmt.Errorf("OnError reported %v, want a ProtocolError with code %d", p.perr, code)
		}
		return sendAfterClose(p)
	}
}

// sendAfterClose checks that sending on a closed connection fails cleanly.
func sendAfterClose(p *peerClient) error {
	if err := p.c.SendText("too late"); !errors.Is(err, wsd.ErrClosed) {
		return fmt.Errorf("SendText after close returned %v, want ErrClosed", err)
	}
	if err := p.c.SendPing(nil, nil); !errors.Is(err, wsd.ErrClosed) {
		return fmt.Errorf("SendPing after close returned %v, want ErrClosed", err)
	}
	return p.c.Close(1000, "")
}
