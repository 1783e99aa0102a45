//go:build linux

package eventloop

import (
	"bytes"
	"context"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Engine "uring" runs the loops on io_uring where it is available, and
// says so when it falls back; an unknown engine is refused.
func TestUringEngineChosen(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{Engine: "uring", ErrorLog: log.New(&logged, "", 0), Handler: http.NotFoundHandler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		<-served
	}()
	var e *engine
	for deadline := time.Now().Add(5 * time.Second); e == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		e = s.eng
		s.mu.Unlock()
	}
	if e == nil {
		t.Fatal("the engine did not start")
	}
	if perr := probeUring(); perr != nil {
		if e.uring || !strings.Contains(logged.String(), "serving with epoll instead") {
			t.Fatalf("io_uring unavailable (%v), yet uring=%v, log %q", perr, e.uring, logged.String())
		}
		t.Skipf("io_uring unavailable: %v", perr)
	}
	if !e.uring || e.loops[0].u == nil {
		t.Fatalf("io_uring is available but the loops run on epoll; log %q", logged.String())
	}

	bad := &Server{Engine: "kqueue"}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Serve(ln2); err == nil || !strings.Contains(err.Error(), "unknown Engine") {
		t.Fatalf("Serve with an unknown engine: %v", err)
	}
}

// TestUringEngine runs this package's tests again with every engine server
// on io_uring.
func TestUringEngine(t *testing.T) {
	if os.Getenv("WSD_TEST_ENGINE") != "" {
		t.Skip("this run is the one on io_uring")
	}
	if testing.Short() {
		t.Skip("runs the package's tests again")
	}
	if err := probeUring(); err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^Test", "-test.count=1")
	cmd.Env = append(os.Environ(), "WSD_TEST_ENGINE=uring")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the tests on io_uring: %v\n%s", err, out.Bytes())
	}
}

// SetRingBufs sets the number of provided buffers of the loops started
// from now on, for a test, and returns what puts it back.
func SetRingBufs(n int) (restore func()) {
	old := ringBufs
	ringBufs = n
	return func() { ringBufs = old }
}
