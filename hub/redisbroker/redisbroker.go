// Package redisbroker is a hub.Broker on Redis publish/subscribe: a hub
// channel is a Redis channel, and a node subscribes to it while it has
// members of the channel. On a Redis Cluster it uses sharded
// publish/subscribe (SPUBLISH, SSUBSCRIBE), so that a message goes only to
// the shard that owns its channel.
//
// Redis keeps no published messages: what is published while a node is
// disconnected does not reach it. The broker reconnects by itself and
// reports each reconnection to the hub, which tells the application.
package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsd-go/wsd/hub"
)

// DefaultPrefix starts the Redis channel of each hub channel.
const DefaultPrefix = "wsd.hub:"

// opTimeout bounds each command to Redis.
const opTimeout = 2 * time.Second

// Broker is a hub.Broker over a Redis client.
type Broker struct {
	client  redis.UniversalClient
	sharded bool
	prefix  string
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	r       hub.Receiver
	want    map[string]bool      // channels subscribed, by hub name
	ops     []op                 // subscriptions to apply, in order
	wake    chan struct{}        // tells the subscriber ops are waiting
	ps      *redis.PubSub        // one for plain publish/subscribe
	shards  map[string]*shardSub // one per channel, for sharded
	done    sync.WaitGroup
	closing bool

	pmu     sync.Mutex
	pq      []outgoing    // published, not yet sent
	pqBytes int           // their size
	pwake   chan struct{} // tells the sender messages wait
	pdone   chan struct{} // closed when the sender has stopped
	pubErr  error         // the sender's last failure, for the next Publish
	spare   []outgoing
}

// outgoing is a message waiting to be sent.
type outgoing struct {
	channel string
	msg     []byte
}

// maxPending bounds the bytes published and not yet sent to Redis;
// Publish fails past it.
const maxPending = 64 << 20

type op struct {
	channel string
	sub     bool
}

// shardSub is the subscription of one channel on a cluster.
type shardSub struct {
	ps     *redis.PubSub
	cancel context.CancelFunc
}

// Dial connects to the Redis server at url (redis://host:port[/db]). It
// fails if the server does not answer now; later it reconnects for as
// long as it takes.
func Dial(url string) (*Broker, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisbroker: %w", err)
	}
	opts.DialTimeout = opTimeout
	b := New(redis.NewClient(opts))
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		b.client.Close()
		return nil, fmt.Errorf("redisbroker: %s: %w", url, err)
	}
	return b, nil
}

// New returns a broker over client, which it closes when the hub does. A
// *redis.ClusterClient gets sharded publish/subscribe.
func New(client redis.UniversalClient) *Broker {
	_, sharded := client.(*redis.ClusterClient)
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{
		client:  client,
		sharded: sharded,
		prefix:  DefaultPrefix,
		ctx:     ctx,
		cancel:  cancel,
		want:    map[string]bool{},
		wake:    make(chan struct{}, 1),
		shards:  map[string]*shardSub{},
		pwake:   make(chan struct{}, 1),
		pdone:   make(chan struct{}),
	}
}

// SetPrefix sets the prefix of the Redis channels, before the broker is
// given to a hub. Nodes that share channels must use the same prefix.
func (b *Broker) SetPrefix(p string) { b.prefix = p }

// Open implements hub.Broker.
func (b *Broker) Open(r hub.Receiver) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != nil {
		return errors.New("redisbroker: already open")
	}
	b.r = r
	if !b.sharded {
		b.ps = b.client.Subscribe(b.ctx)
		b.done.Add(1)
		go b.receive(b.ctx, b.ps)
	}
	b.done.Add(1)
	go b.apply()
	go b.send()
	return nil
}

// Publish implements hub.Broker. It queues msg and returns: a sender
// sends what is queued in pipelines, in order, so that a publisher does not
// wait for Redis's answer. It returns the sender's last failure, if one
// came since the previous call (the hubs of other nodes see the messages
// lost as a gap), or an error if more than 64 MiB wait.
func (b *Broker) Publish(channel string, msg []byte) error {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	if err := b.pubErr; err != nil {
		b.pubErr = nil
		return err
	}
	if b.pqBytes+len(msg) > maxPending {
		return fmt.Errorf("redisbroker: publish %q: %d bytes wait for Redis", channel, b.pqBytes)
	}
	b.pq = append(b.pq, outgoing{channel, append([]byte(nil), msg...)})
	b.pqBytes += len(msg)
	select {
	case b.pwake <- struct{}{}:
	default:
	}
	return nil
}

// send sends the queued messages, each batch in one pipeline; when the
// broker closes, it sends what is left, within opTimeout.
func (b *Broker) send() {
	defer close(b.pdone)
	for {
		closing := false
		select {
		case <-b.ctx.Done():
			closing = true
		case <-b.pwake:
		}
		ctx := b.ctx
		if closing {
			ctx = context.Background()
		}
		b.flush(ctx)
		if closing {
			return
		}
	}
}

func (b *Broker) flush(parent context.Context) {
	for {
		b.pmu.Lock()
		batch := b.pq
		b.pq, b.spare = b.spare[:0], nil
		b.pqBytes = 0
		b.pmu.Unlock()
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(parent, opTimeout)
		pipe := b.client.Pipeline()
		for _, o := range batch {
			if b.sharded {
				pipe.SPublish(ctx, b.prefix+o.channel, o.msg)
			} else {
				pipe.Publish(ctx, b.prefix+o.channel, o.msg)
			}
		}
		_, err := pipe.Exec(ctx)
		cancel()
		clear(batch)
		b.pmu.Lock()
		if err != nil {
			b.pubErr = fmt.Errorf("redisbroker: publish: %w", err)
		}
		b.spare = batch[:0]
		b.pmu.Unlock()
	}
}

// Subscribe implements hub.Broker. It returns at once; the subscription
// is made in the background and kept across reconnections.
func (b *Broker) Subscribe(channel string) error { return b.queue(channel, true) }

// Unsubscribe implements hub.Broker. No message of the channel is
// delivered once it has returned.
func (b *Broker) Unsubscribe(channel string) error { return b.queue(channel, false) }

func (b *Broker) queue(channel string, sub bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return errors.New("redisbroker: closed")
	}
	if b.want[channel] == sub {
		return nil
	}
	if sub {
		b.want[channel] = true
	} else {
		delete(b.want, channel)
	}
	b.ops = append(b.ops, op{channel, sub})
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// apply makes the subscriptions asked for, in order, on its own
// goroutine: a command waits while Redis is away.
func (b *Broker) apply() {
	defer b.done.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		}
		b.mu.Lock()
		ops := b.ops
		b.ops = nil
		b.mu.Unlock()
		for _, o := range ops {
			b.applyOne(o)
		}
	}
}

func (b *Broker) applyOne(o op) {
	name := b.prefix + o.channel
	if !b.sharded {
		// On failure go-redis still records the change, and makes it
		// when it reconnects.
		if o.sub {
			b.ps.Subscribe(b.ctx, name)
		} else {
			b.ps.Unsubscribe(b.ctx, name)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.shards[o.channel]; s != nil {
		s.cancel()
		s.ps.Close()
		delete(b.shards, o.channel)
	}
	if o.sub {
		ctx, cancel := context.WithCancel(b.ctx)
		s := &shardSub{ps: b.client.SSubscribe(ctx, name), cancel: cancel}
		b.shards[o.channel] = s
		b.done.Add(1)
		go b.receive(ctx, s.ps)
	}
}

// receive delivers what ps gets until ctx ends. When the connection
// breaks, go-redis makes it again on the next call, subscriptions
// included; the first answer after that is reported as a possible loss.
func (b *Broker) receive(ctx context.Context, ps *redis.PubSub) {
	defer b.done.Done()
	broken := false
	for ctx.Err() == nil {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			broken = true
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if broken {
			broken = false
			b.r.Lost(b.lostChannel(ps), hub.ErrReconnected)
		}
		m, ok := msg.(*redis.Message)
		if !ok || len(m.Channel) < len(b.prefix) {
			continue
		}
		channel := m.Channel[len(b.prefix):]
		b.mu.Lock()
		wanted := b.want[channel]
		b.mu.Unlock()
		if wanted {
			b.r.Receive(channel, []byte(m.Payload))
		}
	}
}

// lostChannel names the channel of a sharded subscription, or "" for
// every channel.
func (b *Broker) lostChannel(ps *redis.PubSub) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, s := range b.shards {
		if s.ps == ps {
			return name
		}
	}
	return ""
}

// Close implements hub.Broker: it ends the subscriptions and closes the
// client.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	b.cancel()
	if b.r != nil {
		<-b.pdone
	}
	if b.ps != nil {
		b.ps.Close()
	}
	b.mu.Lock()
	for _, s := range b.shards {
		s.ps.Close()
	}
	b.mu.Unlock()
	b.done.Wait()
	return b.client.Close()
}
