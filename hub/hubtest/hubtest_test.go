//go:build !js

package hubtest_test

import (
	"testing"

	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/hubtest"
)

// The in-process bus passes the suite (it has no server to restart).
func TestMemoryBus(t *testing.T) {
	var bus hub.MemoryBus
	hubtest.Run(t, hubtest.Config{NewBroker: func(testing.TB) hub.Broker { return bus.Broker() }})
}
