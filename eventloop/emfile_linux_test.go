//go:build linux

package eventloop_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsd-go/wsd/eventloop"
)

const emfileEnv = "WSD_TEST_EMFILE_SERVER"

// A server out of descriptors stops accepting for a moment, and accepts
// again once connections end and free some: on epoll and on io_uring.
func TestAcceptRetriesWhenOutOfDescriptors(t *testing.T) {
	for _, engine := range []string{"epoll", "uring"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "uring" && !eventloop.UringAvailable() {
				t.Skip("io_uring unavailable")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The server runs in a process of its own, with a limit of
			// descriptors the test's own connections do not count in.
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAcceptRetriesWhenOutOfDescriptors$")
			cmd.Env = append(os.Environ(), emfileEnv+"="+engine)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			addr, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("no address from the server: %v\n%s", err, stderr.Bytes())
			}
			addr = strings.TrimSpace(addr)

			// Room for a few connections only: the later ones wait in the
			// listener's queue.
			var held []net.Conn
			for range 8 {
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, nc)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "retrying in 100ms") {
				if time.Now().After(deadline) {
					t.Fatalf("the server never ran out of descriptors; its log:\n%s", stderr.Bytes())
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, nc := range held[:4] {
				nc.Close()
			}
			// The last connection, queued while the server had no room,
			// is accepted and answered.
			last := held[len(held)-1]
			last.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(last, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(last), nil)
			if err != nil {
				t.Fatalf("the queued connection was not served: %v; server log:\n%s", err, stderr.Bytes())
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, nc := range held[4:] {
				nc.Close()
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *lockedBuffer) Bytes() []byte { return []byte(b.String()) }

func init() {
	engine := os.Getenv(emfileEnv)
	if engine == "" {
		return
	}
	// The server of TestAcceptRetriesWhenOutOfDescriptors.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &eventloop.Server{
		Engine:   engine,
		ErrorLog: log.New(os.Stderr, "", 0),
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	}
	go s.Serve(ln)
	// One request answered: the engine has all its descriptors.
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		panic(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(nc), nil); err != nil {
		panic(err)
	}
	nc.Close()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	// Room for three more descriptors than are open now.
	lim := syscall.Rlimit{Cur: uint64(len(entries) + 3), Max: uint64(len(entries) + 3)}
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old)
	lim.Max = old.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr())
	select {} // until killed
}
