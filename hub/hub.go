// Package hub gives wsd connections channels: a connection joins any
// number of channels, and a message published to a channel reaches every
// member, on this node and, through a Broker, on every other node.
//
// A message is encoded once, and compressed once for the connections that
// agreed permessage-deflate without context takeover (wsd.PreparedMessage);
// every member shares its bytes. Each member has a queue bounded in bytes,
// written by a pool of writers, so publishing never waits for a slow
// connection; a member past its bound is closed with 1008 or loses
// messages, by policy, and Options.OnLoss is told either way. Messages
// between nodes carry a number per publisher and channel, so that a gap,
// like a broker's reconnection, is reported rather than silent.
package hub

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/wsd-go/wsd"
)

// DefaultMaxQueueBytes bounds each connection's queue when
// Options.MaxQueueBytes is zero.
const DefaultMaxQueueBytes = 1 << 20

// Policy says what happens to a connection whose queue is full.
type Policy uint8

// Policies for a connection past Options.MaxQueueBytes.
const (
	// CloseSlow closes the connection with 1008 (policy violation),
	// dropping what waits in its queue.
	CloseSlow Policy = iota
	// DropNew keeps the connection and drops the messages that do not
	// fit, until its queue has room again.
	DropNew
)

func (p Policy) String() string {
	switch p {
	case CloseSlow:
		return "close"
	case DropNew:
		return "drop"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Errors that Loss.Reason holds.
var (
	ErrSlowConsumer = errors.New("hub: connection not reading fast enough")
	ErrGap          = errors.New("hub: messages from another node are missing")
)

// ErrClosed is returned by a Hub's methods once it is closed.
var ErrClosed = errors.New("hub: closed")

// Loss reports messages that did not reach members.
type Loss struct {
	// Conn is the member that lost them, or nil when every member of the
	// channel on this node did (a broker's loss).
	Conn *wsd.Conn
	// Channel is the channel of the messages; for a slow member closed
	// with CloseSlow, the channel of the message that did not fit.
	Channel string
	// Messages and Bytes count what was lost, when known: a broker's
	// reconnection leaves them zero. Bytes count frames.
	Messages, Bytes int
	// Closed reports that the member was closed (CloseSlow).
	Closed bool
	// Reason is ErrSlowConsumer, ErrGap or the broker's error.
	Reason error
}

func (l Loss) String() string {
	return fmt.Sprintf("channel %q: %d messages (%d bytes) lost, closed %v: %v", l.Channel, l.Messages, l.Bytes, l.Closed, l.Reason)
}

// Options configure a Hub. The zero value is a single node with 1 MiB
// queues that closes slow connections.
type Options struct {
	// Broker joins this hub to the other nodes; nil means a single node.
	Broker Broker
	// MaxQueueBytes bounds the frames waiting for each connection; zero
	// means DefaultMaxQueueBytes. A message larger than the bound is
	// still queued when the queue is empty.
	MaxQueueBytes int
	// Policy applies to a connection whose queue is full.
	Policy Policy
	// OnLoss, if set, is told of every loss. It runs on the goroutine
	// that publishes or receives from the broker, outside the hub's
	// locks, and should return quickly.
	OnLoss func(Loss)
	// CloseReason is the reason sent with 1008 to slow connections; ""
	// means "too slow".
	CloseReason string
}

// Hub holds the channels of one node. Its methods are safe for
// concurrent use.
type Hub struct {
	opts   Options
	node   uint64 // this node's id in envelopes
	broker Broker

	mu      sync.RWMutex // guards chans, members and their membership sets
	chans   map[string]*channel
	members map[*wsd.Conn]*member
	closed  bool

	pmu     sync.Mutex // guards pubs
	pubs    map[string]*publisher
	streams atomic.Uint64

	ready   chan *member // hands a member to an idle writer
	idle    atomic.Int32
	writers atomic.Int32
	done    chan struct{}
}

// channel is a channel with members on this node.
type channel struct {
	name    string
	members map[*member]struct{} // guarded by Hub.mu

	mu     sync.Mutex          // guards remote
	remote map[streamID]uint64 // last number seen of each stream
}

type streamID struct{ node, stream uint64 }

// publisher numbers this node's messages to one channel.
type publisher struct {
	mu     sync.Mutex // held while publishing, so numbers go out in order
	stream uint64
	seq    uint64
}

// maxPublishers bounds the publishers kept; past it they start afresh,
// with new streams, which receivers take without reporting a loss.
const maxPublishers = 4096

// maxIdleWriters bounds the writers kept waiting for work.
const maxIdleWriters = 64

// New returns a hub, attached to opts.Broker if set.
func New(opts Options) (*Hub, error) {
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if opts.CloseReason == "" {
		opts.CloseReason = "too slow"
	}
	h := &Hub{
		opts:    opts,
		node:    rand.Uint64(),
		broker:  opts.Broker,
		chans:   map[string]*channel{},
		members: map[*wsd.Conn]*member{},
		pubs:    map[string]*publisher{},
		ready:   make(chan *member),
		done:    make(chan struct{}),
	}
	if h.broker != nil {
		if err := h.broker.Open(receiver{h}); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Close detaches the hub from its broker and forgets its members, leaving
// their connections open. Messages already queued are still written.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	var stops []func() bool
	for _, m := range h.members {
		stops = append(stops, m.stop)
	}
	clear(h.members)
	clear(h.chans)
	h.mu.Unlock()
	for _, stop := range stops {
		if stop != nil {
			stop()
		}
	}
	close(h.done)
	if h.broker != nil {
		return h.broker.Close()
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > 1024 {
		return fmt.Errorf("hub: channel name of %d bytes: want 1 to 1024", len(name))
	}
	return nil
}

// ErrNotOpen is returned by Join for a connection not started yet.
var ErrNotOpen = errors.New("hub: the connection is not open yet: join in its OnOpen handler or after Start")

// Join adds c, an open connection, to the channel name: in c's OnOpen
// handler, so that its first message finds it a member, or after Start. A
// connection leaves its channels when it closes. Joining a channel twice
// does nothing.
func (h *Hub) Join(c *wsd.Conn, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if c.ReadyState() == wsd.Connecting {
		return ErrNotOpen
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	m := h.members[c]
	fresh := m == nil
	if fresh {
		m = &member{h: h, c: c, chans: map[*channel]struct{}{}}
		h.members[c] = m
	}
	ch := h.chans[name]
	var err error
	if ch == nil {
		ch = &channel{name: name, members: map[*member]struct{}{}, remote: map[streamID]uint64{}}
		h.chans[name] = ch
		if h.broker != nil {
			err = h.broker.Subscribe(name)
		}
	}
	ch.members[m] = struct{}{}
	m.chans[ch] = struct{}{}
	h.mu.Unlock()
	if fresh {
		// Outside the lock: on a closed connection the function runs
		// at once.
		stop := c.AfterClose(func() { h.forget(m) })
		h.mu.Lock()
		if h.members[c] == m {
			m.stop = stop
			stop = nil
		}
		h.mu.Unlock()
		if stop != nil {
			stop()
		}
	}
	return err
}

// Leave removes c from the channel name.
func (h *Hub) Leave(c *wsd.Conn, name string) error {
	h.mu.Lock()
	m := h.members[c]
	var ch *channel
	if m != nil {
		ch = h.chans[name]
	}
	if ch == nil {
		h.mu.Unlock()
		return nil
	}
	if _, in := ch.members[m]; !in {
		h.mu.Unlock()
		return nil
	}
	err := h.removeLocked(m, ch)
	var stop func() bool
	if len(m.chans) == 0 {
		delete(h.members, c)
		stop = m.stop
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
	return err
}

// removeLocked takes m out of ch, and drops ch once empty. h.mu is held.
func (h *Hub) removeLocked(m *member, ch *channel) error {
	delete(ch.members, m)
	delete(m.chans, ch)
	if len(ch.members) > 0 {
		return nil
	}
	delete(h.chans, ch.name)
	if h.broker != nil {
		return h.broker.Unsubscribe(ch.name)
	}
	return nil
}

// forget removes a closed connection from its channels.
func (h *Hub) forget(m *member) {
	h.mu.Lock()
	if h.members[m.c] == m {
		delete(h.members, m.c)
		for ch := range m.chans {
			h.removeLocked(m, ch)
		}
	}
	h.mu.Unlock()
	m.discard()
}

// Members returns the connections in the channel name on this node.
func (h *Hub) Members(name string) []*wsd.Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch := h.chans[name]
	if ch == nil {
		return nil
	}
	cs := make([]*wsd.Conn, 0, len(ch.members))
	for m := range ch.members {
		cs = append(cs, m.c)
	}
	return cs
}

// Count returns the number of members of the channel name on this node.
func (h *Hub) Count(name string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if ch := h.chans[name]; ch != nil {
		return len(ch.members)
	}
	return 0
}

// Channels returns the channels that have members on this node.
func (h *Hub) Channels() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	names := make([]string, 0, len(h.chans))
	for name := range h.chans {
		names = append(names, name)
	}
	return names
}

// Publish sends data as a message of type typ (TextMessage or
// BinaryMessage) to every member of the channel name, on every node. It
// queues the message for this node's members and hands it to the broker;
// it never waits for a member. Messages of one publisher reach each member
// in the order they were published. The error is the broker's, if it
// failed: this node's members still get the message. After Close it
// returns ErrClosed.
func (h *Hub) Publish(name string, typ wsd.MessageType, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	p, err := wsd.NewPreparedMessage(typ, data)
	if err != nil {
		return err
	}
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if h.broker == nil {
		losses := h.deliver(name, p, nil)
		h.report(losses)
		return nil
	}
	pub := h.publisher(name)
	pub.mu.Lock()
	pub.seq++
	losses := h.deliver(name, p, nil)
	bp := envBufs.Get().(*[]byte)
	*bp = appendEnvelope((*bp)[:0], envelope{typ: typ, node: h.node, stream: pub.stream, seq: pub.seq, data: data})
	err = h.broker.Publish(name, *bp)
	envBufs.Put(bp)
	pub.mu.Unlock()
	h.report(losses)
	return err
}

// PublishLocal sends a message to the members of the channel name on this
// node only, through their queues, as Publish does: for what only this
// node knows, such as how many members it has.
func (h *Hub) PublishLocal(name string, typ wsd.MessageType, data []byte) error {
	p, err := wsd.NewPreparedMessage(typ, data)
	if err != nil {
		return err
	}
	h.report(h.deliver(name, p, nil))
	return nil
}

var envBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *Hub) publisher(name string) *publisher {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	p := h.pubs[name]
	if p == nil {
		if len(h.pubs) >= maxPublishers {
			clear(h.pubs)
		}
		p = &publisher{stream: h.streams.Add(1)}
		h.pubs[name] = p
	}
	return p
}

// deliver queues p for the members of name on this node and returns the
// losses, appended to losses.
func (h *Hub) deliver(name string, p *wsd.PreparedMessage, losses []Loss) []Loss {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch := h.chans[name]
	if ch == nil {
		return losses
	}
	for m := range ch.members {
		if l, lost := m.enqueue(p); lost {
			l.Channel = name
			losses = append(losses, l)
		}
	}
	return losses
}

func (h *Hub) report(losses []Loss) {
	for _, l := range losses {
		if l.Closed {
			// Close waits for a blocked send at most the close
			// timeout, then drops the connection.
			go l.Conn.Close(wsd.ClosePolicyViolation, h.opts.CloseReason)
		}
		if h.opts.OnLoss != nil {
			h.opts.OnLoss(l)
		}
	}
}

// receiver is the hub's side of its broker.
type receiver struct{ h *Hub }

func (r receiver) Receive(name string, msg []byte) {
	h := r.h
	e, err := parseEnvelope(msg)
	if err != nil {
		h.report([]Loss{{Channel: name, Messages: 1, Bytes: len(msg), Reason: err}})
		return
	}
	if e.node == h.node {
		return // delivered here when published
	}
	var losses []Loss
	h.mu.RLock()
	ch := h.chans[name]
	if ch == nil {
		h.mu.RUnlock()
		return
	}
	ch.mu.Lock()
	id := streamID{e.node, e.stream}
	last, seen := ch.remote[id]
	if seen && e.seq <= last {
		ch.mu.Unlock()
		h.mu.RUnlock()
		return // a duplicate
	}
	ch.remote[id] = e.seq
	ch.mu.Unlock()
	h.mu.RUnlock()
	if seen && e.seq > last+1 {
		losses = append(losses, Loss{Channel: name, Messages: int(e.seq - last - 1), Reason: ErrGap})
	}
	p, err := wsd.NewPreparedMessage(e.typ, e.data)
	if err != nil {
		losses = append(losses, Loss{Channel: name, Messages: 1, Bytes: len(e.data), Reason: err})
	} else {
		losses = h.deliver(name, p, losses)
	}
	h.report(losses)
}

func (r receiver) Lost(name string, err error) {
	h := r.h
	var losses []Loss
	h.mu.RLock()
	for n := range h.chans {
		if name == "" || n == name {
			losses = append(losses, Loss{Channel: n, Reason: err})
		}
	}
	h.mu.RUnlock()
	h.report(losses)
}
