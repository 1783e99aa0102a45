package hub

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/wsd-go/wsd"
)

// Broker carries messages between the nodes of a service, each node a Hub
// with its own Broker. A broker passes opaque messages by channel; the hub
// puts in them what it needs to tell nodes and losses apart.
//
// Subscribe and Unsubscribe say whether this node wants a channel's
// messages: the hub subscribes to a channel while it has local members,
// and calls them in order, under its lock, so they must not wait on the
// network. A broker keeps its subscriptions across reconnections and
// calls Lost when messages may have gone missing meanwhile.
type Broker interface {
	// Open starts delivering to r. The hub calls it once, before any
	// other method.
	Open(r Receiver) error
	// Publish sends msg to every node subscribed to channel, this one
	// included. It may keep msg only until it returns.
	Publish(channel string, msg []byte) error
	// Subscribe starts delivery of channel's messages to this node.
	Subscribe(channel string) error
	// Unsubscribe stops it.
	Unsubscribe(channel string) error
	// Close stops delivery and releases the broker's connections.
	Close() error
}

// Receiver is what a Broker delivers to; the Hub implements it.
type Receiver interface {
	// Receive takes a message published to channel. msg is only valid
	// during the call. Calls for one channel must not overlap and must
	// keep the order in which the broker got the messages.
	Receive(channel string, msg []byte)
	// Lost reports that messages of channel, or of every channel when
	// channel is "", may have been lost: the broker's connection broke
	// and was made again, or it said it dropped some.
	Lost(channel string, err error)
}

// ErrReconnected is the error a broker gives Lost after it reconnected:
// what was published while it was away did not reach this node.
var ErrReconnected = errors.New("hub: broker connection lost and restored; messages published meanwhile are lost")

// An envelope is a message between nodes: a version byte, the message
// type, the publishing node, the stream and the message's number in it,
// then the data. A stream is one node's sequence of messages to one
// channel, numbered from 1, so a receiver sees a gap as a loss.
const envelopeVersion = 1

type envelope struct {
	typ    wsd.MessageType
	node   uint64
	stream uint64
	seq    uint64
	data   []byte
}

func appendEnvelope(b []byte, e envelope) []byte {
	b = append(b, envelopeVersion, byte(e.typ))
	b = binary.BigEndian.AppendUint64(b, e.node)
	b = binary.AppendUvarint(b, e.stream)
	b = binary.AppendUvarint(b, e.seq)
	return append(b, e.data...)
}

var errEnvelope = errors.New("hub: malformed message from the broker")

func parseEnvelope(b []byte) (e envelope, err error) {
	if len(b) < 10 || b[0] != envelopeVersion {
		return e, errEnvelope
	}
	e.typ = wsd.MessageType(b[1])
	if e.typ != wsd.TextMessage && e.typ != wsd.BinaryMessage {
		return e, errEnvelope
	}
	e.node = binary.BigEndian.Uint64(b[2:])
	b = b[10:]
	var n int
	if e.stream, n = binary.Uvarint(b); n <= 0 {
		return e, errEnvelope
	}
	b = b[n:]
	if e.seq, n = binary.Uvarint(b); n <= 0 || e.seq == 0 {
		return e, errEnvelope
	}
	e.data = b[n:]
	return e, nil
}

// MemoryBus joins hubs of one process, as a broker would join nodes: each
// hub gets its own Broker from Broker. Delivery is synchronous and never
// loses a message. A hub without a Broker needs no bus.
type MemoryBus struct {
	mu    sync.RWMutex
	nodes map[*memoryBroker]struct{}
}

// Broker returns a new Broker attached to the bus.
func (b *MemoryBus) Broker() Broker { return &memoryBroker{bus: b, subs: map[string]bool{}} }

type memoryBroker struct {
	bus  *MemoryBus
	r    Receiver
	dmu  sync.Mutex // held while delivering to r, so deliveries keep their order
	smu  sync.Mutex // guards subs; never held while calling r
	subs map[string]bool
}

func (m *memoryBroker) Open(r Receiver) error {
	m.r = r
	m.bus.mu.Lock()
	if m.bus.nodes == nil {
		m.bus.nodes = map[*memoryBroker]struct{}{}
	}
	m.bus.nodes[m] = struct{}{}
	m.bus.mu.Unlock()
	return nil
}

func (m *memoryBroker) Publish(channel string, msg []byte) error {
	m.bus.mu.RLock()
	defer m.bus.mu.RUnlock()
	if _, ok := m.bus.nodes[m]; !ok {
		return errors.New("hub: broker closed")
	}
	for n := range m.bus.nodes {
		n.smu.Lock()
		sub := n.subs[channel]
		n.smu.Unlock()
		if sub {
			n.dmu.Lock()
			n.r.Receive(channel, msg)
			n.dmu.Unlock()
		}
	}
	return nil
}

func (m *memoryBroker) Subscribe(channel string) error {
	m.smu.Lock()
	m.subs[channel] = true
	m.smu.Unlock()
	return nil
}

func (m *memoryBroker) Unsubscribe(channel string) error {
	m.smu.Lock()
	delete(m.subs, channel)
	m.smu.Unlock()
	return nil
}

func (m *memoryBroker) Close() error {
	m.bus.mu.Lock()
	delete(m.bus.nodes, m)
	m.bus.mu.Unlock()
	return nil
}
