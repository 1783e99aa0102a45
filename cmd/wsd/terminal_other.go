//go:build !linux

package main

import (
	"errors"
	"os"
)

// isTerminal says whether r is a character device, the nearest guess at
// a terminal without termios calls.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// makeRaw is not done here: lines are read as the terminal gives them.
func makeRaw(*os.File) (func(), error) {
	return nil, errors.ErrUnsupported
}
