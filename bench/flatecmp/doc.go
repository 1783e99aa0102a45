// Package flatecmp compares the standard library's compress/flate with
// github.com/klauspost/compress/flate for the work permessage-deflate does:
// compressing and inflating one WebSocket message at a time, with a sync
// flush at the end of each, and keeping (or not) a context per connection.
//
// It is a separate module so that the wsd module itself depends on the
// standard library only. Run it with
//
//	go test -run XXX -bench . -benchmem -benchtime=1s -count=3
//
// and TestMemoryPerContext (go test -run Memory -v) for the memory figures.
// The results are in docs/deflate.md of the wsd module.
package flatecmp
