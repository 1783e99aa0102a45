//go:build !js

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Without adapters, -broker says where they are, and the command fails.
func TestHubWithoutAdapters(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"hub", "-addr", "127.0.0.1:0", "-broker", "nats://127.0.0.1:4222"}, strings.NewReader(""), os.Stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "wsd-hub") {
		t.Errorf("stderr %q does not name the build with adapters", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"hub", "-engine", "fibers"}, strings.NewReader(""), os.Stdout, &stderr); code != 2 {
		t.Errorf("bad engine: exit %d, want 2", code)
	}
}
