package handshake

import (
	"fmt"
	"strconv"
)

// Deflate is the name of the permessage-deflate extension (RFC 7692).
const Deflate = "permessage-deflate"

// The four parameters of permessage-deflate (RFC 7692, section 7.1).
const (
	serverNoContextTakeover = "server_no_context_takeover"
	clientNoContextTakeover = "client_no_context_takeover"
	serverMaxWindowBits     = "server_max_window_bits"
	clientMaxWindowBits     = "client_max_window_bits"
)

// MinWindowBits and MaxWindowBits bound the LZ77 window sizes that
// permessage-deflate can negotiate, as base-2 logarithms.
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// DeflateConfig is what one end wants from permessage-deflate, in the
// terms of RFC 7692. Window bits of 0 mean no limit.
//
// A client offers these parameters. ClientMaxWindowBits is always offered,
// bare when 0, since a client that can honour the server's limit on its
// window should say so.
//
// A server accepts an offer only if every parameter in it is known and
// valid, and then answers with the offer's wishes combined with its own:
// it announces server_no_context_takeover and client_no_context_takeover
// when either the offer or its config has them (a client that offers
// client_no_context_takeover lets the server keep no window for it), and
// the smaller of the two window limits for each side (a limit on the
// client's window only when the client offered client_max_window_bits, as
// the RFC requires).
type DeflateConfig struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// DeflateParams are the parameters in force once a permessage-deflate
// negotiation is done. Window bits are 15 where no limit was agreed.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// DeflateOffer returns the extension a client offers for c.
func DeflateOffer(c DeflateConfig) Extension {
	e := Extension{Name: Deflate}
	if c.ServerNoContextTakeover {
		e.Params = append(e.Params, Param{Name: serverNoContextTakeover})
	}
	if c.ClientNoContextTakeover {
		e.Params = append(e.Params, Param{Name: clientNoContextTakeover})
	}
	if validBits(c.ServerMaxWindowBits) {
		e.Params = append(e.Params, Param{Name: serverMaxWindowBits, Value: strconv.Itoa(c.ServerMaxWindowBits), HasValue: true})
	}
	if validBits(c.ClientMaxWindowBits) {
		e.Params = append(e.Params, Param{Name: clientMaxWindowBits, Value: strconv.Itoa(c.ClientMaxWindowBits), HasValue: true})
	} else {
		e.Params = append(e.Params, Param{Name: clientMaxWindowBits})
	}
	return e
}

// deflateParams is one parsed offer or response. A window of 0 means the
// parameter was absent; clientBitsGiven is true when client_max_window_bits
// was present, with or without a value.
type deflateParams struct {
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
	clientBitsGiven                    bool
}

// parseDeflate checks the parameters of one permessage-deflate entry: each
// known, at most once, with a valid value. In a response (resp true),
// client_max_window_bits needs a value.
func parseDeflate(e Extension, resp bool) (deflateParams, error) {
	var d deflateParams
	seen := map[string]bool{}
	for _, p := range e.Params {
		if seen[p.Name] {
			return d, fmt.Errorf("parameter %s given twice", p.Name)
		}
		seen[p.Name] = true
		switch p.Name {
		case serverNoContextTakeover, clientNoContextTakeover:
			if p.HasValue {
				return d, fmt.Errorf("parameter %s takes no value, got %q", p.Name, p.Value)
			}
			if p.Name == serverNoContextTakeover {
				d.serverNoTakeover = true
			} else {
				d.clientNoTakeover = true
			}
		case serverMaxWindowBits:
			if !p.HasValue {
				return d, fmt.Errorf("parameter %s needs a value", p.Name)
			}
			bits, err := parseBits(p)
			if err != nil {
				return d, err
			}
			d.serverBits = bits
		case clientMaxWindowBits:
			d.clientBitsGiven = true
			if !p.HasValue {
				if resp {
					return d, fmt.Errorf("parameter %s needs a value in a response", p.Name)
				}
				continue
			}
			bits, err := parseBits(p)
			if err != nil {
				return d, err
			}
			d.clientBits = bits
		default:
			return d, fmt.Errorf("unknown parameter %q", p.Name)
		}
	}
	return d, nil
}

// parseBits parses a window size: a decimal integer from 8 to 15 without
// leading zeros (RFC 7692, section 7.1.2.1).
func parseBits(p Param) (int, error) {
	v := p.Value
	if len(v) == 1 && v[0] >= '8' && v[0] <= '9' {
		return int(v[0] - '0'), nil
	}
	if len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
		return 10 + int(v[1]-'0'), nil
	}
	return 0, fmt.Errorf("parameter %s: %q is not a window size from 8 to 15", p.Name, v)
}

func validBits(b int) bool { return b >= MinWindowBits && b <= MaxWindowBits }

// minBits returns the smaller of two window limits, where 0 is no limit.
func minBits(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

func orMax(b int) int {
	if b == 0 {
		return MaxWindowBits
	}
	return b
}

// AcceptDeflate picks the first acceptable permessage-deflate offer in
// offers (the client's extensions, in its order of preference) and returns
// the server's response to it and the parameters in force. ok is false if
// no offer is acceptable: offers with unknown parameters or bad values are
// declined, never an error. Other extensions are ignored.
func AcceptDeflate(offers []Extension, c DeflateConfig) (resp Extension, p DeflateParams, ok bool) {
	for _, e := range offers {
		if e.Name != Deflate {
			continue
		}
		o, err := parseDeflate(e, false)
		if err != nil {
			continue
		}
		p = DeflateParams{
			ServerNoContextTakeover: o.serverNoTakeover || c.ServerNoContextTakeover,
			ClientNoContextTakeover: o.clientNoTakeover || c.ClientNoContextTakeover,
			ServerMaxWindowBits:     minBits(o.serverBits, c.ServerMaxWindowBits),
			ClientMaxWindowBits:     MaxWindowBits,
		}
		if o.clientBitsGiven {
			p.ClientMaxWindowBits = minBits(o.clientBits, c.ClientMaxWindowBits)
		}
		resp = Extension{Name: Deflate}
		if p.ServerNoContextTakeover {
			resp.Params = append(resp.Params, Param{Name: serverNoContextTakeover})
		}
		if p.ClientNoContextTakeover {
			resp.Params = append(resp.Params, Param{Name: clientNoContextTakeover})
		}
		if p.ServerMaxWindowBits != 0 {
			resp.Params = append(resp.Params, Param{Name: serverMaxWindowBits, Value: strconv.Itoa(p.ServerMaxWindowBits), HasValue: true})
		}
		if o.clientBitsGiven && p.ClientMaxWindowBits != 0 {
			resp.Params = append(resp.Params, Param{Name: clientMaxWindowBits, Value: strconv.Itoa(p.ClientMaxWindowBits), HasValue: true})
		}
		p.ServerMaxWindowBits = orMax(p.ServerMaxWindowBits)
		p.ClientMaxWindowBits = orMax(p.ClientMaxWindowBits)
		return resp, p, true
	}
	return Extension{}, DeflateParams{}, false
}

// CheckDeflateResponse checks the extensions a server answered to a client
// that offered DeflateOffer(offered), or nothing if offered is nil. It
// returns the parameters in force and whether the server accepted the
// extension. As RFC 7692 section 7.1 requires of clients, anything not
// offered or invalid is an error, which must fail the connection: another
// extension, permessage-deflate twice or when it was not offered, an
// unknown parameter, a bad value, a server window larger than the one
// asked for, or a client window larger than the one offered.
func CheckDeflateResponse(exts []Extension, offered *DeflateConfig) (p DeflateParams, ok bool, err error) {
	for _, e := range exts {
		if e.Name != Deflate || offered == nil {
			return p, false, fmt.Errorf("server accepted extension %q that was not offered", e.Name)
		}
		if ok {
			return p, false, fmt.Errorf("server accepted %s twice", Deflate)
		}
		r, err := parseDeflate(e, true)
		if err != nil {
			return p, false, fmt.Errorf("bad %s response: %w", Deflate, err)
		}
		if offered.ServerMaxWindowBits != 0 && r.serverBits > offered.ServerMaxWindowBits {
			return p, false, fmt.Errorf("bad %s response: server_max_window_bits=%d exceeds the %d offered", Deflate, r.serverBits, offered.ServerMaxWindowBits)
		}
		if offered.ClientMaxWindowBits != 0 && r.clientBits > offered.ClientMaxWindowBits {
			return p, false, fmt.Errorf("bad %s response: client_max_window_bits=%d exceeds the %d offered", Deflate, r.clientBits, offered.ClientMaxWindowBits)
		}
		p = DeflateParams{
			ServerNoContextTakeover: r.serverNoTakeover,
			ClientNoContextTakeover: r.clientNoTakeover || offered.ClientNoContextTakeover,
			ServerMaxWindowBits:     orMax(r.serverBits),
			ClientMaxWindowBits:     orMax(minBits(r.clientBits, offered.ClientMaxWindowBits)),
		}
		ok = true
	}
	return p, ok, nil
}
