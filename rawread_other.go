//go:build !unix && !js

package wsd

import "syscall"

// rawReads is false where socket descriptors are not read with read(2):
// there the transport reads through net.Conn and keeps its buffer.
const rawReads = false

func readRaw(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }
