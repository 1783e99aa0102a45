//go:build !unix && !js

package main

import (
	"net"
	"testing"
)

// refusedAddr returns a loopback address nothing listens on, as far as
// this system lets a test hold one.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}
