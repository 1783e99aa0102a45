//go:build linux

package eventloop

import (
	"syscall"
	"testing"
)

// An event that epoll reported for a socket closed since, whose number
// the acceptor gave to a new connection, must not reach the new one.
func TestStaleEventIsDropped(t *testing.T) {
	e := &engine{}
	l := &loop{e: e}
	const fd = 7
	old := &conn{l: l, fd: fd, gen: e.gens.Add(1)}
	e.table.put(fd, old)
	stale := syscall.EpollEvent{Events: syscall.EPOLLHUP, Fd: fd, Pad: int32(old.gen)}
	if l.owner(&stale) != old {
		t.Fatal("an event for a live connection was not delivered")
	}
	e.table.del(fd, old) // closed by a worker...
	fresh := &conn{l: l, fd: fd, gen: e.gens.Add(1)}
	e.table.put(fd, fresh) // ...and the number accepted again
	if c := l.owner(&stale); c != nil {
		t.Fatal("an event for the closed socket reached the new connection on its fd")
	}
	cur := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: fd, Pad: int32(fresh.gen)}
	if l.owner(&cur) != fresh {
		t.Fatal("an event for the new connection was not delivered")
	}
}
