//go:build !js

package wsd

import (
	"fmt"
	"net/http"
	"net/url"
)

// requestHeaders returns the extra headers of the handshake request to
// u: Options.AdditionalHeaders, with the cookies of Options.Jar for u
// added to any Cookie header they have.
func (c *Conn) requestHeaders(u *url.URL) http.Header {
	h := c.opts.AdditionalHeaders
	if c.opts.Jar == nil {
		return h
	}
	cookies := c.opts.Jar.Cookies(httpURL(u))
	if len(cookies) == 0 {
		return h
	}
	r := &http.Request{Header: h.Clone()}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	return r.Header
}

// redirectError refuses a 3xx answer to the handshake: a client follows
// no redirects, which could take it, and its cookies and headers, to
// another host.
func redirectError(resp *http.Response) error {
	reason := "redirect without a Location, not followed"
	if loc := resp.Header.Get("Location"); loc != "" {
		reason = fmt.Sprintf("redirect to %q, not followed: a client follows no redirects", loc)
	}
	return &HandshakeError{Status: resp.StatusCode, Reason: reason}
}
