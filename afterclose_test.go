//go:build !js

package wsd_test

import (
	"sync/atomic"
	"testing"
)

// AfterClose runs its function once, when the connection closes and before
// the close event; a stopped one does not run; after the close it runs at
// once.
func TestAfterClose(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	var ran, stopped atomic.Int32
	var beforeClose atomic.Bool
	srv.c.AfterClose(func() {
		ran.Add(1)
		beforeClose.Store(len(srv.rec.ch) == 0)
	})
	stop := srv.c.AfterClose(func() { stopped.Add(1) })
	if !stop() {
		t.Error("stop before the close reported false")
	}
	if stop() {
		t.Error("second stop reported true")
	}
	cli.c.Close(1000, "bye")
	srv.rec.expectClose(t, 1000, "bye")
	if ran.Load() != 1 || stopped.Load() != 0 {
		t.Errorf("ran %d times, stopped one ran %d times; want 1 and 0", ran.Load(), stopped.Load())
	}
	if !beforeClose.Load() {
		t.Error("it ran after the close event")
	}
	late := false
	stop = srv.c.AfterClose(func() { late = true })
	if !late || stop() {
		t.Errorf("on a closed connection: ran %v, stop reported true", late)
	}
}
