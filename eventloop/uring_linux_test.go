//go:build linux

package eventloop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func testRing(t *testing.T) *ring {
	t.Helper()
	r, err := newRing(64)
	if errors.Is(err, errNoUring) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// Many entries go in with one system call, and each completes once.
func TestRingBatch(t *testing.T) {
	r := testRing(t)
	for i := range 40 {
		s, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		s.opcode, s.userData = opNop, uint64(i)+1
	}
	if err := r.submit(40, time.Second); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	r.reap(func(c *cqe) {
		if c.res != 0 || seen[c.userData] {
			t.Errorf("completion %+v", *c)
		}
		seen[c.userData] = true
	})
	if len(seen) != 40 {
		t.Fatalf("%d completions, want 40", len(seen))
	}
}

// A wait with a timeout ends on time when nothing completes.
func TestRingWaitTimeout(t *testing.T) {
	r := testRing(t)
	start := time.Now()
	if err := r.submit(1, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v for a 20ms timeout", d)
	}
}

// Accept, receive into provided buffers and send, all through the ring:
// three clients, each answered with what it sent, reversed.
func TestRingAcceptRecvSend(t *testing.T) {
	r := testRing(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lfd, _, err := listenerFD(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(lfd)
	br, err := r.newBufRing(1, 8, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer br.free()

	const acceptTag, recvTag, sendTag, cancelTag = 1 << 56, 2 << 56, 3 << 56, 4 << 56
	var peer syscall.RawSockaddrAny
	var peerLen uint32
	if err := r.prepAcceptOne(lfd, &peer, &peerLen, acceptTag); err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for i := range 3 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "hello %d", i)
		clients = append(clients, c)
	}

	var fds []int
	got := map[int][]byte{}
	var sends [][]byte // referenced until their sends complete
	sent := 0
	for deadline := time.Now().Add(5 * time.Second); sent < 3 && time.Now().Before(deadline); {
		if err := r.submit(1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		r.reap(func(c *cqe) {
			switch c.userData &^ (1<<56 - 1) {
			case acceptTag:
				if c.res < 0 {
					t.Errorf("accept: %v", syscall.Errno(-c.res))
					return
				}
				if peer.Addr.Family != syscall.AF_INET || peerLen == 0 {
					t.Errorf("accept wrote no peer address (family %d, length %d)", peer.Addr.Family, peerLen)
				}
				fd := int(c.res)
				if len(fds) < 2 {
					if err := r.prepAcceptOne(lfd, &peer, &peerLen, acceptTag); err != nil {
						t.Error(err)
					}
				}
				fds = append(fds, fd)
				if err := r.prepRecv(fd, br.group, true, recvTag|uint64(fd)); err != nil {
					t.Error(err)
				}
			case recvTag:
				fd := int(c.userData & (1<<56 - 1))
				if c.res <= 0 || c.flags&cqeFBuffer == 0 {
					return // the end of the stream, or a canceled receive
				}
				id := uint16(c.flags >> cqeBufShift)
				got[fd] = append(got[fd], br.buf(id, int(c.res))...)
				br.put(id)
				if len(got[fd]) == len("hello 0") {
					out := bytes.Clone(got[fd])
					for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
						out[i], out[j] = out[j], out[i]
					}
					sends = append(sends, out)
					if err := r.prepSend(fd, out, sendTag|uint64(fd)); err != nil {
						t.Error(err)
					}
				}
			case sendTag:
				if c.res != int32(len("hello 0")) {
					t.Errorf("send: %d", c.res)
				}
				sent++
			}
		})
	}
	runtime.KeepAlive(sends)
	if sent != 3 {
		t.Fatalf("%d answers sent, want 3", sent)
	}
	for i, c := range clients {
		b := make([]byte, len("hello 0"))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d olleh", i); string(b) != want {
			t.Fatalf("client %d read %q, want %q", i, b, want)
		}
	}
	// Closing a socket leaves its receive in the ring, holding the file:
	// cancel first, and the peer then sees the end.
	for _, fd := range fds {
		if err := r.prepCancelFD(fd, cancelTag); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.submit(uint32(len(fds)), time.Second); err != nil {
		t.Fatal(err)
	}
	r.reap(func(*cqe) {})
	for _, fd := range fds {
		syscall.Close(fd)
	}
	for i, c := range clients {
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("client %d: %v after the server closed, want EOF", i, err)
		}
	}
}
