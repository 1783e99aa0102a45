package natsbroker_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/hubtest"
	"github.com/wsd-go/wsd/hub/natsbroker"
)

// natsServer runs a NATS server in this process on 127.0.0.1.
type natsServer struct {
	port int
	s    *server.Server
}

func startNATS(t testing.TB, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10 s")
	}
	return s
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsServer) restart(t testing.TB) {
	n.s.Shutdown()
	n.s.WaitForShutdown()
	// The port may take a moment to be free again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if s.ReadyForConnections(2 * time.Second) {
			n.s = s
			return
		}
		s.Shutdown()
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not restart")
		}
	}
}

func TestConformance(t *testing.T) {
	n := &natsServer{port: freePort(t)}
	n.s = startNATS(t, n.port)
	t.Cleanup(func() { n.s.Shutdown(); n.s.WaitForShutdown() })
	hubtest.Run(t, hubtest.Config{
		NewBroker: func(t testing.TB) hub.Broker {
			b, err := natsbroker.Dial(n.url())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Restart: n.restart,
	})
}

// Dial fails at once, with the address, when no server is there.
func TestDialUnreachable(t *testing.T) {
	url := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	start := time.Now()
	_, err := natsbroker.Dial(url)
	if err == nil {
		t.Fatal("Dial succeeded without a server")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Dial took %v to fail", time.Since(start))
	}
	t.Log(err)
}

func TestSubjects(t *testing.T) {
	n := &natsServer{port: freePort(t)}
	n.s = startNATS(t, n.port)
	defer n.s.Shutdown()
	b, err := natsbroker.Dial(n.url())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 10)
	b.Open(receiverFunc(func(channel string, msg []byte) { got <- channel + "=" + string(msg) }))
	names := []string{"plain-name_1", "with.dot", "*", ">", "space here", "ünïcode"}
	for _, name := range names {
		if err := b.Subscribe(name); err != nil {
			t.Fatal(err)
		}
	}
	b.Conn().Flush()
	for _, name := range names {
		b.Publish(name, []byte("x"))
		select {
		case s := <-got:
			if s != name+"=x" {
				t.Fatalf("published on %q, got %q", name, s)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("nothing on %q", name)
		}
	}
}

type receiverFunc func(channel string, msg []byte)

func (f receiverFunc) Receive(channel string, msg []byte) { f(channel, msg) }
func (f receiverFunc) Lost(string, error)                 {}
