//go:build !race

package wsd

const raceEnabled = false
