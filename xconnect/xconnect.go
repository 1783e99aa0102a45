// Package xconnect turns on RFC 8441 extended CONNECT in net/http's
// HTTP/2 server, so that browsers and wsd clients open WebSockets over
// HTTP/2. Import it for its effect, in the program's main package:
//
//	import _ "github.com/wsd-go/wsd/xconnect"
//
// net/http reads the setting once, from the GODEBUG environment variable
// (http2xconnect=1), while it initializes. Go initializes packages in the
// order of their import paths, dependencies first; this package needs
// only os and strings, and its path sorts before net/http's, so its init
// adds the setting to GODEBUG before net/http reads it. Running the
// program with GODEBUG=http2xconnect=1 does the same without this
// package; an http2xconnect setting already in GODEBUG, such as
// http2xconnect=0, is left as it is.
//
// GODEBUG is inherited by child processes, which will have the setting
// too. The HTTP/2 client of net/http needs nothing: it sends extended
// CONNECT whenever a server announces it.
package xconnect

import (
	"os"
	"strings"
)

func init() {
	v := os.Getenv("GODEBUG")
	if strings.Contains(v, "http2xconnect=") {
		return
	}
	if v != "" {
		v += ","
	}
	os.Setenv("GODEBUG", v+"http2xconnect=1")
}
