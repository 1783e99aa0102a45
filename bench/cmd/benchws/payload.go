package main

import (
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/wsd-go/wsd/bench/internal/wsclient"
)

// deflateVariants is how many different messages of each size the deflate
// scenario cycles through, so that no server sees the same one twice in a
// row.
const deflateVariants = 8

// deflatePayload is one message of the deflate scenario, ready to send.
type deflatePayload struct {
	plain []byte // the message, JSON-like text
	z     []byte // its permessage-deflate payload
}

// makeDeflatePayloads returns deflateVariants distinct messages of exactly
// size bytes for each size, compressed in advance so that the load
// generator spends nothing on compression. They are the same in every run.
func makeDeflatePayloads(sizes []int) (map[int][]deflatePayload, error) {
	all := map[int][]deflatePayload{}
	for _, size := range sizes {
		if _, done := all[size]; done {
			continue
		}
		vs := make([]deflatePayload, deflateVariants)
		for i := range vs {
			vs[i].plain = jsonText(size, uint64(i))
			z, err := wsclient.Deflate(nil, vs[i].plain, flate.DefaultCompression)
			if err != nil {
				return nil, fmt.Errorf("compressing a %s payload: %w", sizeName(size), err)
			}
			vs[i].z = z
		}
		all[size] = vs
	}
	return all, nil
}

// Vocabularies of the generated records.
var (
	firstNames = []string{"anna", "ben", "carla", "david", "elif", "farid", "greta", "hugo", "ines", "jonas", "kim", "lena", "mateo", "nora", "omar", "paula"}
	lastNames  = []string{"schmidt", "garcia", "rossi", "novak", "kowalski", "jensen", "dubois", "silva", "yilmaz", "tanaka", "okafor", "larsen"}
	countries  = []string{"DE", "FR", "ES", "IT", "PL", "NL", "SE", "PT", "TR", "JP", "NG", "BR", "US", "CA"}
	tagWords   = []string{"beta", "mobile", "premium", "trial", "admin", "newsletter", "verified", "legacy", "api", "eu"}
	words      = []string{"the", "order", "was", "shipped", "to", "customer", "and", "payment", "received", "on", "time",
		"please", "check", "status", "of", "your", "account", "update", "settings", "new", "message", "from", "support",
		"team", "about", "invoice", "delivery", "address", "changed", "thanks", "for", "using", "our", "service"}
)

// jsonText returns size bytes of an array of JSON records like a web API
// sends: numbers, names, dates, tags and a short sentence, drawn from a
// generator seeded by the size and the variant. The array is cut at size
// bytes, so its end need not be valid JSON; it is always ASCII, so valid
// as a text message.
func jsonText(size int, variant uint64) []byte {
	r := rand.New(rand.NewPCG(uint64(size), variant))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	b := make([]byte, 0, size+512)
	b = append(b, '[')
	for i := 0; len(b) < size; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		first, last := pick(firstNames), pick(lastNames)
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(100000+r.IntN(900000)), 10)
		b = append(b, `,"name":"`...)
		b = append(b, first...)
		b = append(b, ' ')
		b = append(b, last...)
		b = append(b, `","email":"`...)
		b = append(b, first...)
		b = append(b, '.')
		b = append(b, last...)
		b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
		b = append(b, `@example.com","active":`...)
		b = strconv.AppendBool(b, r.IntN(4) != 0)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, float64(r.IntN(10000))/100, 'f', 2, 64)
		b = append(b, `,"country":"`...)
		b = append(b, pick(countries)...)
		b = fmt.Appendf(b, `","created":"2024-%02d-%02dT%02d:%02d:%02dZ","tags":[`,
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
		for j := range 1 + r.IntN(3) {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, pick(tagWords)...)
			b = append(b, '"')
		}
		b = append(b, `],"note":"`...)
		for j := range 4 + r.IntN(8) {
			if j > 0 {
				b = append(b, ' ')
			}
			b = append(b, pick(words)...)
		}
		b = append(b, `"}`...)
	}
	return b[:size]
}
