package handshake

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	slow := func(key string) string {
		sum := sha1.Sum([]byte(key + GUID))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	long := strings.Repeat("k", 100) // longer than the stack buffer
	tests := []struct{ key, want string }{
		{"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, // RFC 6455, section 1.3
		{"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
		{"", slow("")},
		{long, slow(long)},
	}
	for _, tt := range tests {
		if got := AcceptKey(tt.key); got != tt.want {
			t.Errorf("AcceptKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestAcceptKeyAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { AcceptKey("dGhlIHNhbXBsZSBub25jZQ==") })
	if n > 1 {
		t.Errorf("AcceptKey allocates %v times, want at most 1 (the result)", n)
	}
}

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	for _, k := range []string{a, b} {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 16 {
			t.Errorf("NewKey() = %q: decodes to %d bytes, err %v; want 16 bytes", k, len(raw), err)
		}
	}
	if a == b {
		t.Errorf("NewKey returned %q twice", a)
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"Upgrade"}, "upgrade", true},
		{[]string{"UPGRADE"}, "upgrade", true},
		{[]string{"keep-alive, Upgrade"}, "upgrade", true},
		{[]string{"keep-alive,Upgrade"}, "upgrade", true},
		{[]string{" \tUpgrade\t , keep-alive"}, "upgrade", true},
		{[]string{"keep-alive", "Upgrade"}, "upgrade", true}, // later header line
		{[]string{"keep-alive, , Upgrade,"}, "upgrade", true},
		{[]string{"upgrades"}, "upgrade", false},
		{[]string{"no-upgrade"}, "upgrade", false},
		{[]string{"up grade"}, "upgrade", false},
		{[]string{"keep-alive"}, "upgrade", false},
		{[]string{""}, "upgrade", false},
		{nil, "upgrade", false},
	}
	for _, tt := range tests {
		h := http.Header{"Connection": tt.values}
		if got := HasToken(h, "connection", tt.token); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tt.values, tt.token, got, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		values []string
		want   []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{" , ,"}, nil},
		{[]string{"chat"}, []string{"chat"}},
		{[]string{"chat, superchat"}, []string{"chat", "superchat"}},
		{[]string{" chat ,\tSuperChat ", "v2.x"}, []string{"chat", "SuperChat", "v2.x"}},
		{[]string{"a,,b", "", "c"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		h := http.Header{"Sec-Websocket-Protocol": tt.values}
		if got := Tokens(h, "Sec-WebSocket-Protocol"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

func TestParseExtensions(t *testing.T) {
	pmd := func(params ...Param) Extension { return Extension{Name: "permessage-deflate", Params: params} }
	bare := func(name string) Param { return Param{Name: name} }
	val := func(name, value string) Param { return Param{Name: name, Value: value, HasValue: true} }
	tests := []struct {
		values []string
		want   []Extension
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"permessage-deflate"}, []Extension{pmd()}},
		{
			[]string{"permessage-deflate; client_max_window_bits=10; server_no_context_takeover"},
			[]Extension{pmd(val("client_max_window_bits", "10"), bare("server_no_context_takeover"))},
		},
		{
			[]string{"permessage-deflate;client_max_window_bits;server_max_window_bits=\"12\""},
			[]Extension{pmd(bare("client_max_window_bits"), val("server_max_window_bits", "12"))},
		},
		{
			[]string{"permessage-deflate \t; \tclient_max_window_bits = \"1\\5\" ; x"},
			[]Extension{pmd(val("client_max_window_bits", "15"), bare("x"))},
		},
		{
			// Two offers in one value, the first preferred, plus a later line.
			[]string{"permessage-deflate; server_max_window_bits=10, permessage-deflate", "foo; bar=baz"},
			[]Extension{
				pmd(val("server_max_window_bits", "10")),
				pmd(),
				{Name: "foo", Params: []Param{val("bar", "baz")}},
			},
		},
		{[]string{" , a ,, b , "}, []Extension{{Name: "a"}, {Name: "b"}}},
	}
	for _, tt := range tests {
		h := http.Header{"Sec-Websocket-Extensions": tt.values}
		got, err := ParseExtensions(h)
		if err != nil {
			t.Errorf("ParseExtensions(%q): %v", tt.values, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseExtensions(%q) = %#v, want %#v", tt.values, got, tt.want)
		}
	}
}

func TestParseExtensionsErrors(t *testing.T) {
	tests := []struct {
		value string
		err   string
	}{
		{";x", `missing extension name at offset 0 (found ";")`},
		{"a, ;x", `missing extension name at offset 3 (found ";")`},
		{"a;", `missing parameter name at end`},
		{"a; =1", `missing parameter name at offset 3 (found "=")`},
		{"a; b=", `missing parameter value at end`},
		{"a; b=,", `missing parameter value at offset 5 (found ",")`},
		{"a b", `unexpected "b" at offset 2`},
		{"a=1", `unexpected "=" at offset 1`},
		{"a; b=1 2", `unexpected "2" at offset 7`},
		{"a/b", `unexpected "/" at offset 1`},
		{"é", `missing extension name at offset 0 (found "\xc3")`},
		{`a; b="10`, `unterminated quoted string`},
		{`a; b="10\`, `unterminated quoted string`},
		{`a; b="1 0"`, `quoted value "1 0" is not a token`},
		{`a; b=""`, `quoted value "" is not a token`},
		{`a; b="\""`, `quoted value "\"" is not a token`},
		{`a; b="10"x`, `unexpected "x" at offset 9`},
	}
	for _, tt := range tests {
		h := http.Header{"Sec-Websocket-Extensions": {"ok", tt.value}}
		got, err := ParseExtensions(h)
		if err == nil {
			t.Errorf("ParseExtensions(%q) = %#v, want error", tt.value, got)
			continue
		}
		want := "websocket handshake: bad Sec-WebSocket-Extensions " + strconv.Quote(tt.value) + ": " + tt.err
		if err.Error() != want {
			t.Errorf("ParseExtensions(%q) error:\n got %s\nwant %s", tt.value, err, want)
		}
		if got != nil {
			t.Errorf("ParseExtensions(%q) = %#v with error, want nil", tt.value, got)
		}
	}
}

func TestExtensionString(t *testing.T) {
	tests := []struct {
		ext  Extension
		want string
	}{
		{Extension{Name: "permessage-deflate"}, "permessage-deflate"},
		{
			Extension{Name: "permessage-deflate", Params: []Param{
				{Name: "client_max_window_bits", Value: "10", HasValue: true},
				{Name: "server_no_context_takeover"},
			}},
			"permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
		},
		{Extension{Name: "x", Params: []Param{{Name: "p", HasValue: true}}}, `x; p=""`},
		{Extension{Name: "x", Params: []Param{{Name: "p", Value: `a "b"\`, HasValue: true}}}, `x; p="a \"b\"\\"`},
	}
	for _, tt := range tests {
		if got := tt.ext.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.ext, got, tt.want)
		}
	}
}

func TestFormatExtensions(t *testing.T) {
	exts := []Extension{
		{Name: "permessage-deflate", Params: []Param{{Name: "client_max_window_bits"}}},
		{Name: "permessage-deflate"},
	}
	const want = "permessage-deflate; client_max_window_bits, permessage-deflate"
	if got := FormatExtensions(exts); got != want {
		t.Errorf("FormatExtensions = %q, want %q", got, want)
	}
	if got := FormatExtensions(nil); got != "" {
		t.Errorf("FormatExtensions(nil) = %q, want empty", got)
	}
	back, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {want}})
	if err != nil || !reflect.DeepEqual(back, exts) {
		t.Errorf("ParseExtensions(%q) = %#v, %v; want %#v", want, back, err, exts)
	}
}
