package handshake

import (
	"net/http"
	"strings"
	"testing"
)

func parseExt(t *testing.T, v string) []Extension {
	t.Helper()
	if v == "" {
		return nil
	}
	exts, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {v}})
	if err != nil {
		t.Fatalf("parse %q: %v", v, err)
	}
	return exts
}

// full is the parameters with no limit and context takeover both ways.
var full = DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}

func TestAcceptDeflate(t *testing.T) {
	tests := []struct {
		name   string
		offer  string
		config DeflateConfig
		resp   string // "" means declined
		params DeflateParams
	}{
		{"bare", "permessage-deflate", DeflateConfig{}, "permessage-deflate", full},
		{"other extensions ignored", "x-foo, permessage-deflate; client_max_window_bits", DeflateConfig{}, "permessage-deflate", full},
		{"server_no_context_takeover", "permessage-deflate; server_no_context_takeover", DeflateConfig{},
			"permessage-deflate; server_no_context_takeover", DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"client_no_context_takeover", "permessage-deflate; client_no_context_takeover", DeflateConfig{},
			"permessage-deflate; client_no_context_takeover", DeflateParams{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"both no takeover", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", DeflateConfig{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", DeflateParams{true, true, 15, 15}},
		{"server announces its own no takeover", "permessage-deflate", DeflateConfig{ServerNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover", DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"server asks client no takeover", "permessage-deflate", DeflateConfig{ClientNoContextTakeover: true},
			"permessage-deflate; client_no_context_takeover", DeflateParams{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"server_max_window_bits 8", "permessage-deflate; server_max_window_bits=8", DeflateConfig{},
			"permessage-deflate; server_max_window_bits=8", DeflateParams{ServerMaxWindowBits: 8, ClientMaxWindowBits: 15}},
		{"server_max_window_bits 15", "permessage-deflate; server_max_window_bits=15", DeflateConfig{},
			"permessage-deflate; server_max_window_bits=15", full},
		{"server_max_window_bits quoted", `permessage-deflate; server_max_window_bits="10"`, DeflateConfig{},
			"permessage-deflate; server_max_window_bits=10", DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}},
		{"server_max_window_bits smaller of both", "permessage-deflate; server_max_window_bits=12", DeflateConfig{ServerMaxWindowBits: 9},
			"permessage-deflate; server_max_window_bits=9", DeflateParams{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}},
		{"server limits its own window", "permessage-deflate", DeflateConfig{ServerMaxWindowBits: 11},
			"permessage-deflate; server_max_window_bits=11", DeflateParams{ServerMaxWindowBits: 11, ClientMaxWindowBits: 15}},
		{"client_max_window_bits bare", "permessage-deflate; client_max_window_bits", DeflateConfig{}, "permessage-deflate", full},
		{"client_max_window_bits value", "permessage-deflate; client_max_window_bits=10", DeflateConfig{},
			"permessage-deflate; client_max_window_bits=10", DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}},
		{"client window limited by server", "permessage-deflate; client_max_window_bits", DeflateConfig{ClientMaxWindowBits: 9},
			"permessage-deflate; client_max_window_bits=9", DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 9}},
		{"client window smaller of both", "permessage-deflate; client_max_window_bits=12", DeflateConfig{ClientMaxWindowBits: 13},
			"permessage-deflate; client_max_window_bits=12", DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 12}},
		{"client window not limitable without the parameter", "permessage-deflate", DeflateConfig{ClientMaxWindowBits: 9}, "permessage-deflate", full},
		{"all four", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11", DeflateConfig{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11", DeflateParams{true, true, 10, 11}},

		// Bad offers are declined; the next acceptable one is taken.
		{"unknown parameter", "permessage-deflate; foo", DeflateConfig{}, "", DeflateParams{}},
		{"unknown parameter then good", "permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=9", DeflateConfig{},
			"permessage-deflate; server_max_window_bits=9", DeflateParams{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}},
		{"first acceptable of three", "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=16, permessage-deflate; client_no_context_takeover", DeflateConfig{},
			"permessage-deflate; client_no_context_takeover", DeflateParams{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}},
		{"duplicate parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", DeflateConfig{}, "", DeflateParams{}},
		{"duplicate window", "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", DeflateConfig{}, "", DeflateParams{}},
		{"server_no_context_takeover with value", "permessage-deflate; server_no_context_takeover=1", DeflateConfig{}, "", DeflateParams{}},
		{"client_no_context_takeover with value", "permessage-deflate; client_no_context_takeover=true", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits without value", "permessage-deflate; server_max_window_bits", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits 7", "permessage-deflate; server_max_window_bits=7", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits 16", "permessage-deflate; server_max_window_bits=16", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits 0", "permessage-deflate; server_max_window_bits=0", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits leading zero", "permessage-deflate; server_max_window_bits=09", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits sign", "permessage-deflate; server_max_window_bits=+9", DeflateConfig{}, "", DeflateParams{}},
		{"server_max_window_bits word", "permessage-deflate; server_max_window_bits=ten", DeflateConfig{}, "", DeflateParams{}},
		{"client_max_window_bits 7", "permessage-deflate; client_max_window_bits=7", DeflateConfig{}, "", DeflateParams{}},
		{"client_max_window_bits 16", "permessage-deflate; client_max_window_bits=16", DeflateConfig{}, "", DeflateParams{}},
		{"client_max_window_bits 100", "permessage-deflate; client_max_window_bits=100", DeflateConfig{}, "", DeflateParams{}},
		{"other extension only", "x-webkit-deflate-frame", DeflateConfig{}, "", DeflateParams{}},
		{"none", "", DeflateConfig{}, "", DeflateParams{}},
		{"name is case-sensitive", "Permessage-Deflate", DeflateConfig{}, "", DeflateParams{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, p, ok := AcceptDeflate(parseExt(t, tt.offer), tt.config)
			if !ok {
				if tt.resp != "" {
					t.Fatalf("declined, want %q", tt.resp)
				}
				return
			}
			if tt.resp == "" {
				t.Fatalf("accepted with %q, want declined", resp.String())
			}
			if resp.String() != tt.resp {
				t.Errorf("response %q, want %q", resp.String(), tt.resp)
			}
			if p != tt.params {
				t.Errorf("params %+v, want %+v", p, tt.params)
			}
			// The response is one the client that made the offer accepts,
			// with the same parameters.
			if cp, ok, err := CheckDeflateResponse(parseExt(t, resp.String()), offerConfig(t, tt.offer)); err != nil || !ok || cp != p {
				t.Errorf("client sees %+v, %v, %v; want %+v", cp, ok, err, p)
			}
		})
	}
}

// offerConfig recovers the config of the first acceptable offer in v, as
// if DeflateOffer had made it.
func offerConfig(t *testing.T, v string) *DeflateConfig {
	for _, e := range parseExt(t, v) {
		if e.Name != Deflate {
			continue
		}
		o, err := parseDeflate(e, false)
		if err != nil {
			continue
		}
		return &DeflateConfig{o.serverNoTakeover, o.clientNoTakeover, o.serverBits, o.clientBits}
	}
	t.Fatal("no acceptable offer")
	return nil
}

func TestDeflateOffer(t *testing.T) {
	tests := []struct {
		config DeflateConfig
		want   string
	}{
		{DeflateConfig{}, "permessage-deflate; client_max_window_bits"},
		{DeflateConfig{ClientNoContextTakeover: true}, "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
		{DeflateConfig{ServerNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 12},
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"},
	}
	for _, tt := range tests {
		if got := DeflateOffer(tt.config).String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.config, got, tt.want)
		}
	}
}

func TestCheckDeflateResponse(t *testing.T) {
	std := &DeflateConfig{}
	tests := []struct {
		name    string
		offered *DeflateConfig
		resp    string
		ok      bool
		params  DeflateParams
		err     string // part of the error, "" for none
	}{
		{"nothing offered, nothing answered", nil, "", false, DeflateParams{}, ""},
		{"declined", std, "", false, DeflateParams{}, ""},
		{"bare", std, "permessage-deflate", true, full, ""},
		{"server_no_context_takeover unasked", std, "permessage-deflate; server_no_context_takeover", true,
			DeflateParams{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, ""},
		{"client_no_context_takeover unasked", std, "permessage-deflate; client_no_context_takeover", true,
			DeflateParams{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, ""},
		{"client_no_context_takeover offered, not echoed", &DeflateConfig{ClientNoContextTakeover: true}, "permessage-deflate", true,
			DeflateParams{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, ""},
		{"server_max_window_bits unasked", std, "permessage-deflate; server_max_window_bits=9", true,
			DeflateParams{ServerMaxWindowBits: 9, ClientMaxWindowBits: 15}, ""},
		{"server_max_window_bits smaller than asked", &DeflateConfig{ServerMaxWindowBits: 12}, "permessage-deflate; server_max_window_bits=10", true,
			DeflateParams{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}, ""},
		{"client_max_window_bits", std, "permessage-deflate; client_max_window_bits=8", true,
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 8}, ""},
		{"client window our own limit", &DeflateConfig{ClientMaxWindowBits: 10}, "permessage-deflate", true,
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, ""},
		{"client window equal to offered", &DeflateConfig{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10", true,
			DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, ""},

		{"not offered", nil, "permessage-deflate", false, DeflateParams{}, "not offered"},
		{"other extension", std, "x-foo", false, DeflateParams{}, "not offered"},
		{"other extension too", std, "permessage-deflate, x-foo", false, DeflateParams{}, "not offered"},
		{"twice", std, "permessage-deflate, permessage-deflate", false, DeflateParams{}, "twice"},
		{"unknown parameter", std, "permessage-deflate; foo", false, DeflateParams{}, "unknown parameter"},
		{"duplicate parameter", std, "permessage-deflate; client_no_context_takeover; client_no_context_takeover", false, DeflateParams{}, "twice"},
		{"no takeover with value", std, "permessage-deflate; server_no_context_takeover=1", false, DeflateParams{}, "no value"},
		{"server window without value", std, "permessage-deflate; server_max_window_bits", false, DeflateParams{}, "needs a value"},
		{"server window 7", std, "permessage-deflate; server_max_window_bits=7", false, DeflateParams{}, "not a window size"},
		{"server window 16", std, "permessage-deflate; server_max_window_bits=16", false, DeflateParams{}, "not a window size"},
		{"server window larger than asked", &DeflateConfig{ServerMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=11", false, DeflateParams{}, "exceeds"},
		{"client window without value", std, "permessage-deflate; client_max_window_bits", false, DeflateParams{}, "needs a value"},
		{"client window 7", std, "permessage-deflate; client_max_window_bits=7", false, DeflateParams{}, "not a window size"},
		{"client window leading zero", std, "permessage-deflate; client_max_window_bits=010", false, DeflateParams{}, "not a window size"},
		{"client window larger than offered", &DeflateConfig{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", false, DeflateParams{}, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok, err := CheckDeflateResponse(parseExt(t, tt.resp), tt.offered)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.ok || p != tt.params {
				t.Errorf("got %+v, %v, %v; want %+v, %v", p, ok, err, tt.params, tt.ok)
			}
		})
	}
}
