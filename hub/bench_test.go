//go:build !js

package hub_test

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/hub"
)

// fanout is a hub with n members on 127.0.0.1, each a client in this
// process that counts what it receives.
type fanout struct {
	h        *hub.Hub
	received atomic.Int64
	target   atomic.Int64
	reached  chan struct{}
}

func newFanout(t testing.TB, engine string, n int) *fanout {
	h, err := hub.New(hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f := &fanout{h: h, reached: make(chan struct{}, 1)}
	url := serve(t, engine, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		c.OnOpen(func() { h.Join(c, "bench") })
		c.Start(r.Context())
	}))
	for range n {
		c, err := wsd.NewClient(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.OnMessage(func(wsd.Message) {
			if f.received.Add(1) == f.target.Load() {
				f.reached <- struct{}{}
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err = c.Start(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(1000, ""); <-c.Done() })
	}
	eventually(t, "members joined", func() bool { return h.Count("bench") == n })
	return f
}

// publish publishes count messages and waits until every member has them.
func (f *fanout) publish(t testing.TB, msg []byte, count, members int) {
	want := f.received.Load() + int64(count*members)
	f.target.Store(want)
	for range count {
		f.h.Publish("bench", wsd.BinaryMessage, msg)
	}
	select {
	case <-f.reached:
	case <-time.After(waitTimeout):
		t.Fatalf("%d of %d deliveries", f.received.Load()-want+int64(count*members), count*members)
	}
}

// allocsPerDelivery counts the allocations of the whole process, server
// and clients, per message delivered to one member.
func (f *fanout) allocsPerDelivery(t testing.TB, msg []byte, count, members int) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f.publish(t, msg, count, members)
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(count*members)
}

// Delivering a message costs a member no allocation in steady state: the
// message is prepared once per publish, whatever the number of members.
func TestFanoutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	const members = 200
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFanout(t, engine, members)
			msg := make([]byte, 128)
			f.publish(t, msg, 200, members) // warm up pools and writers
			per := f.allocsPerDelivery(t, msg, 500, members)
			t.Logf("%.4f allocations per delivery", per)
			// A publish allocates a few objects, shared by all members:
			// well under 0.05 per delivery with 200 members.
			if per > 0.05 {
				t.Errorf("%.4f allocations per delivery, want about 0", per)
			}
		})
	}
}

// BenchmarkFanout publishes to 100 members and reports the cost per
// delivery.
func BenchmarkFanout(b *testing.B) {
	const members = 100
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			f := newFanout(b, engine, members)
			msg := make([]byte, 128)
			f.publish(b, msg, 100, members)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				f.publish(b, msg, 1, members)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*members), "allocs/delivery")
		})
	}
}
