package selfsigned

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	c, err := New("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: c.Pool()}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: c.Pool()}); err == nil {
		t.Error("verified for a host it was not made for")
	}
	sum := sha256.Sum256(c.Leaf.Raw)
	if got := strings.ReplaceAll(c.Fingerprint(), ":", ""); got != strings.ToUpper(hex.EncodeToString(sum[:])) || len(c.Fingerprint()) != 95 {
		t.Errorf("fingerprint %q", c.Fingerprint())
	}
	if d, err := New("127.0.0.1"); err != nil || d.Fingerprint() == c.Fingerprint() || d.SPKIHash() == c.SPKIHash() {
		t.Errorf("a second certificate is the same: %v", err)
	}
}
