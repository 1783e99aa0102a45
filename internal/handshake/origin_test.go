package handshake

import (
	"net/http"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	for _, tc := range []struct {
		host, origin string
		patterns     []string
		ok           bool
	}{
		{"example.com", "", nil, true},
		{"example.com", "https://example.com", nil, true},
		{"example.com:8080", "http://EXAMPLE.com:8080", nil, true},
		{"example.com:8080", "http://example.com:9090", nil, false},
		{"example.com", "https://evil.com", nil, false},
		{"example.com", "null", nil, false},
		{"example.com", "https://evil.com", []string{"*"}, true},
		{"example.com", "https://app.example.org", []string{"*.example.org"}, true},
		{"example.com", "https://app.example.org:8443", []string{"*.example.org"}, true},
		{"example.com", "https://app.example.org:8443", []string{"*.example.org:443"}, false},
		{"example.com", "http://localhost:3000", []string{"localhost:*"}, true},
		{"example.com", "http://localhost:3000", []string{"127.0.0.1"}, false},
		{"example.com", "http://example.com.evil.com", nil, false},
		{"[::1]:80", "http://[::1]:80", nil, true},
		{"example.com", "http://[::1]:80", []string{"[::1]:80"}, false}, // brackets are path.Match classes
	} {
		r := &http.Request{Host: tc.host, Header: http.Header{}}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		err := CheckOrigin(r, tc.patterns)
		if (err == nil) != tc.ok {
			t.Errorf("host %q origin %q patterns %q: err %v, want ok=%v", tc.host, tc.origin, tc.patterns, err, tc.ok)
		}
		if err != nil && err.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", err.Status)
		}
	}
}
