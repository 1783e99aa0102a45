//go:build unix

package wsd

import "syscall"

// rawReads tells whether the goroutine transport reads sockets through
// syscall.RawConn, so that an idle connection holds no read buffer.
const rawReads = true

func readRaw(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
