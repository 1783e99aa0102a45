package redisbroker_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/hubtest"
	"github.com/wsd-go/wsd/hub/redisbroker"
)

// redisServer is a redis-server process on 127.0.0.1, started by the test
// and stopped by its PID.
type redisServer struct {
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

func redisPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server)")
	}
	return path
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	r := &redisServer{port: freePort(t)}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.cmd = exec.Command(redisPath(t), "--bind", "127.0.0.1", "--port", fmt.Sprint(r.port),
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		r.exited = exited
		go func(cmd *exec.Cmd) {
			cmd.Wait()
			close(exited)
		}(r.cmd)
		if r.ready(exited) {
			return
		}
		r.stop()
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start within 10 s")
		}
		time.Sleep(100 * time.Millisecond) // the port may not be free yet
	}
}

// ready waits until the server accepts connections, or has exited.
func (r *redisServer) ready(exited chan struct{}) bool {
	for range 100 {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.Dial("tcp", r.addr()); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		<-r.exited
	}
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() }

func (r *redisServer) restart(t testing.TB) {
	r.stop()
	time.Sleep(50 * time.Millisecond)
	r.start(t)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestConformance(t *testing.T) {
	r := startRedis(t)
	hubtest.Run(t, hubtest.Config{
		NewBroker: func(t testing.TB) hub.Broker {
			b, err := redisbroker.Dial(r.url())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Restart: r.restart,
	})
}

// Dial fails at once, with the address, when no server is there.
func TestDialUnreachable(t *testing.T) {
	url := fmt.Sprintf("redis://127.0.0.1:%d", freePort(t))
	start := time.Now()
	if _, err := redisbroker.Dial(url); err == nil {
		t.Fatal("Dial succeeded without a server")
	} else {
		t.Log(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Dial took %v to fail", time.Since(start))
	}
	if _, err := redisbroker.Dial("http://x"); err == nil {
		t.Error("Dial took an http URL")
	}
}
