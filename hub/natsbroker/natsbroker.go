// Package natsbroker is a hub.Broker on NATS core publish/subscribe: a
// hub channel is a NATS subject, and a node subscribes to it while it has
// members of the channel.
//
// NATS core keeps no messages: what is published while a node is
// disconnected does not reach it. The broker reports each reconnection,
// and each message the client dropped as a slow consumer, to the hub,
// which tells the application.
package natsbroker

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsd-go/wsd/hub"
)

// DefaultPrefix starts the subjects of hub channels.
const DefaultPrefix = "wsd.hub"

// Broker is a hub.Broker over one NATS connection.
type Broker struct {
	nc     *nats.Conn
	prefix string

	mu   sync.Mutex
	r    hub.Receiver
	subs map[string]*nats.Subscription
	byID map[*nats.Subscription]string
}

// Dial connects to the NATS server at url (nats://host:port, or several,
// comma-separated) with the subject prefix DefaultPrefix. It fails if no
// server can be reached now; later it reconnects for as long as it takes.
// opts are applied before the broker's own handlers.
func Dial(url string, opts ...nats.Option) (*Broker, error) {
	b := &Broker{prefix: DefaultPrefix, subs: map[string]*nats.Subscription{}, byID: map[*nats.Subscription]string{}}
	all := append([]nats.Option{
		nats.Name("wsd hub"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.Timeout(2 * time.Second),
	}, opts...)
	all = append(all,
		nats.ReconnectHandler(func(*nats.Conn) { b.lost("", hub.ErrReconnected) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			b.mu.Lock()
			name, ok := b.byID[s]
			b.mu.Unlock()
			if ok {
				b.lost(name, fmt.Errorf("natsbroker: %w", err))
			}
		}),
	)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

// SetPrefix sets the prefix of the subjects, before the broker is given
// to a hub. Nodes that share channels must use the same prefix.
func (b *Broker) SetPrefix(p string) { b.prefix = p }

// Conn returns the NATS connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

func (b *Broker) lost(channel string, err error) {
	b.mu.Lock()
	r := b.r
	b.mu.Unlock()
	if r != nil {
		r.Lost(channel, err)
	}
}

// subject returns the subject of a channel. Names made of letters,
// digits, '-' and '_' are used as they are; others are encoded, with a
// '~' first, so that no name can hold a '.' or a wildcard.
func (b *Broker) subject(channel string) string {
	for i := 0; i < len(channel); i++ {
		c := channel[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return b.prefix + ".~" + base64.RawURLEncoding.EncodeToString([]byte(channel))
		}
	}
	return b.prefix + "." + channel
}

// Open implements hub.Broker.
func (b *Broker) Open(r hub.Receiver) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != nil {
		return errors.New("natsbroker: already open")
	}
	b.r = r
	return nil
}

// Publish implements hub.Broker. While the connection is down, messages
// wait in the client's reconnect buffer.
func (b *Broker) Publish(channel string, msg []byte) error {
	return b.nc.Publish(b.subject(channel), msg)
}

// Subscribe implements hub.Broker.
func (b *Broker) Subscribe(channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[channel] != nil {
		return nil
	}
	r := b.r
	s, err := b.nc.Subscribe(b.subject(channel), func(m *nats.Msg) { r.Receive(channel, m.Data) })
	if err != nil {
		return fmt.Errorf("natsbroker: subscribe %q: %w", channel, err)
	}
	b.subs[channel] = s
	b.byID[s] = channel
	return nil
}

// Unsubscribe implements hub.Broker.
func (b *Broker) Unsubscribe(channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.subs[channel]
	if s == nil {
		return nil
	}
	delete(b.subs, channel)
	delete(b.byID, s)
	return s.Unsubscribe()
}

// Close implements hub.Broker: it closes the connection.
func (b *Broker) Close() error {
	b.nc.Close()
	return nil
}
