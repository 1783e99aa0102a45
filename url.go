package wsd

import (
	"fmt"
	"net/url"
)

// parseURL parses a client's ws:// or wss:// URL, as both builds take it.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("wsd: bad URL: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("wsd: bad URL %q: scheme must be ws or wss", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("wsd: bad URL %q: no host", rawURL)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("wsd: bad URL %q: fragments are not allowed", rawURL)
	}
	return u, nil
}
