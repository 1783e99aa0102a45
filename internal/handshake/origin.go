package handshake

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CheckOrigin guards against cross-site WebSocket hijacking: a browser
// sends Origin with every WebSocket handshake, and a page of another site
// must not open a connection that carries this site's cookies. A request
// without Origin (not from a browser) passes; so does one whose Origin
// host equals the request's Host, or matches one of patterns. A pattern is
// a host or host:port in path.Match syntax (e.g. "*.example.com",
// "localhost:*"); "*" allows every origin.
func CheckOrigin(r *http.Request, patterns []string) *Error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		if matchOrigin(origin, patterns) {
			return nil
		}
		return &Error{http.StatusForbidden, fmt.Sprintf("bad Origin %q", origin)}
	}
	if strings.EqualFold(u.Host, r.Host) || matchOrigin(u.Host, patterns) {
		return nil
	}
	return &Error{http.StatusForbidden, fmt.Sprintf("Origin %q is not allowed for host %q", origin, r.Host)}
}

func matchOrigin(host string, patterns []string) bool {
	host = strings.ToLower(host)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == "*" {
			return true
		}
		// A pattern without a port matches the host on any port.
		h := host
		if !strings.Contains(p, ":") {
			if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
				h = h[:i]
			}
		}
		if ok, _ := path.Match(p, h); ok {
			return true
		}
	}
	return false
}
