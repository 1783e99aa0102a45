//go:build linux

package wsd_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

// engineEnv names the transport the suite runs on; TestEventLoopEngine
// sets it for a second run of the whole suite.
const engineEnv = "WSD_TEST_ENGINE"

func init() {
	if os.Getenv(engineEnv) != "epoll" {
		return
	}
	wsd.ServeEngine = func(h http.Handler) (string, func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		srv := &eventloop.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
		served := make(chan struct{})
		go func() {
			srv.Serve(ln)
			close(served)
		}()
		return ln.Addr().String(), func() {
			srv.Close()
			<-served
		}
	}
}

// TestEventLoopEngine runs every test of this package again with its
// servers on the event-loop engine, which must behave as net/http does.
func TestEventLoopEngine(t *testing.T) {
	if os.Getenv(engineEnv) != "" {
		t.Skip("this run is the one on the engine")
	}
	if testing.Short() {
		t.Skip("runs the whole suite again")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^Test", "-test.count=1")
	cmd.Env = append(os.Environ(), engineEnv+"=epoll")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the suite on the event-loop engine: %v\n%s", err, out.Bytes())
	}
}
