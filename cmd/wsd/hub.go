//go:build !js

package main

import (
	"io"

	"github.com/wsd-go/wsd/internal/hubcmd"
)

// hubCmd runs a pub/sub node. This build links no broker adapter, as the
// library module keeps no third-party dependency: -broker needs the
// wsd-hub command (cmd/wsd-hub, a module of its own), which takes the same
// flags.
func hubCmd(args []string, stdout, stderr io.Writer) int {
	return hubcmd.Run("wsd hub", args, stdout, stderr, nil)
}
