package hub

import (
	"sync"

	"github.com/wsd-go/wsd"
)

// member is a connection of the hub, with its queue of frames to send.
type member struct {
	h     *Hub
	c     *wsd.Conn
	chans map[*channel]struct{} // guarded by Hub.mu
	stop  func() bool           // unregisters the AfterClose function; Hub.mu

	mu    sync.Mutex
	q     []*wsd.PreparedMessage // waiting
	spare []*wsd.PreparedMessage // the last batch's slice, for reuse
	bytes int                    // queued and being written
	busy  bool                   // a writer has it, or is to
	gone  bool                   // closed, or being closed for being slow
}

// enqueue queues p, or applies the policy if the queue is full. It
// reports a loss; the caller closes the connection if l.Closed.
func (m *member) enqueue(p *wsd.PreparedMessage) (l Loss, lost bool) {
	size := p.Size()
	m.mu.Lock()
	if m.gone {
		m.mu.Unlock()
		return l, false
	}
	if m.bytes > 0 && m.bytes+size > m.h.opts.MaxQueueBytes {
		l = Loss{Conn: m.c, Messages: 1, Bytes: size, Reason: ErrSlowConsumer}
		if m.h.opts.Policy == CloseSlow {
			m.gone = true
			l.Closed = true
			l.Messages += len(m.q)
			for _, q := range m.q {
				l.Bytes += q.Size()
			}
			clear(m.q)
			m.q = m.q[:0]
		}
		m.mu.Unlock()
		return l, true
	}
	m.q = append(m.q, p)
	m.bytes += size
	start := !m.busy
	m.busy = true
	m.mu.Unlock()
	if start {
		m.h.schedule(m)
	}
	return l, false
}

// discard drops the queue of a connection that closed.
func (m *member) discard() {
	m.mu.Lock()
	m.gone = true
	clear(m.q)
	m.q = m.q[:0]
	m.mu.Unlock()
}

// schedule hands m to an idle writer, or to a new one if none is idle:
// a writer blocked on a slow connection holds up no other.
func (h *Hub) schedule(m *member) {
	select {
	case h.ready <- m:
	default:
		h.writers.Add(1)
		// A go statement with arguments allocates; one without does
		// not, so the member goes through a channel.
		go newWriter()
		handoff <- m
	}
}

// handoff passes members to new writers; its buffer spares the publisher
// the wait for each new goroutine to run.
var handoff = make(chan *member, 256)

func newWriter() {
	m := <-handoff
	m.h.writer(m)
}

// writer writes members' queues; it waits for more work while few
// writers are idle, and ends otherwise.
func (h *Hub) writer(m *member) {
	defer h.writers.Add(-1)
	for {
		m.drain()
		if h.idle.Add(1) > maxIdleWriters {
			h.idle.Add(-1)
			return
		}
		select {
		case m = <-h.ready:
			h.idle.Add(-1)
		case <-h.done:
			h.idle.Add(-1)
			return
		}
	}
}

// drain writes m's queue until it is empty, a batch at a time: what
// queued during one write goes out in the next.
func (m *member) drain() {
	for {
		m.mu.Lock()
		if len(m.q) == 0 || m.gone {
			m.busy = false
			m.bytes = 0
			m.mu.Unlock()
			return
		}
		batch := m.q
		m.q, m.spare = m.spare[:0], nil
		m.mu.Unlock()
		err := m.c.SendPrepared(batch...)
		n := 0
		for _, p := range batch {
			n += p.Size()
		}
		clear(batch)
		m.mu.Lock()
		m.bytes -= n
		m.spare = batch[:0]
		if err != nil {
			// The connection is closing; AfterClose forgets it.
			m.gone = true
		}
		m.mu.Unlock()
	}
}
