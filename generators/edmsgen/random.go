package edmsgen

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
)

// pct reports true with probability p percent.
func (g *generator) pct(p int) bool { return g.f.IntN(100) < p }

// pick returns a random element of xs.
func pick[T any](g *generator, xs []T) T { return xs[g.f.IntN(len(xs))] }

// after returns a time between 1 second and maxSeconds seconds after t, with microseconds.
func (g *generator) after(t time.Time, maxSeconds int) time.Time {
	return t.Add(time.Duration(1+g.f.IntN(maxSeconds))*time.Second +
		time.Duration(g.f.IntN(1_000_000))*time.Microsecond)
}

// someTime returns a time in the three years after epoch.
func (g *generator) someTime() time.Time { return g.after(epoch, 3*365*24*3600) }

// user returns a random generated user (the bulk user excluded).
func (g *generator) user() int32 { return pick(g, g.userIDs) }

// actor returns nil with probability nullPct, else the admin (5%), or a generated user.
func (g *generator) actor(nullPct int) any {
	switch r := g.f.IntN(100); {
	case r < nullPct:
		return nil
	case r < nullPct+5:
		return g.adminID
	default:
		return g.user()
	}
}

// flavour returns s, sometimes with a Unicode or COPY-hostile sample appended.
func (g *generator) flavour(s string) string {
	switch r := g.f.IntN(100); {
	case r < 12:
		return s + " " + pick(g, unicodeSamples)
	case r < 14:
		return s + " " + pick(g, escapeSamples)
	default:
		return s
	}
}

// text returns about n bytes of words from the vocabulary.
func (g *generator) text(n int) []byte {
	if len(g.vocabulary) == 0 {
		for range 512 {
			g.vocabulary = append(g.vocabulary, g.f.Word())
		}
		g.vocabulary = append(g.vocabulary, unicodeSamples...)
	}
	b := make([]byte, 0, n+32)
	for len(b) < n {
		b = append(b, pick(g, g.vocabulary)...)
		if g.f.IntN(12) == 0 {
			b = append(b, ".\n"...)
		} else {
			b = append(b, ' ')
		}
	}
	return b
}

// bytes returns n random bytes.
func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.f.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// content returns a version's content for a mime type and target size.
func (g *generator) content(mime string, size int) []byte {
	switch mime {
	case "text/plain":
		return g.text(size)
	case "application/pdf":
		return append([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), g.bytes(size)...)
	case "image/png":
		return append([]byte("\x89PNG\r\n\x1a\n"), g.bytes(size)...)
	default:
		return append([]byte("PK\x03\x04"), g.bytes(size)...)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// addr returns a random client address: IPv4 mostly, IPv6 sometimes, NULL sometimes.
func (g *generator) addr() any {
	switch r := g.f.IntN(100); {
	case r < 20:
		return nil
	case r < 80:
		v := g.f.Uint32()
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		return netip.PrefixFrom(a, 32)
	default:
		var b [16]byte
		copy(b[:], g.bytes(16))
		b[0], b[1] = 0x20, 0x01
		return netip.PrefixFrom(netip.AddrFrom16(b), 128)
	}
}

// password returns a Django-style password hash string (not a hash of anything).
func (g *generator) password() string {
	return "pbkdf2_sha256$870000$" + hex.EncodeToString(g.bytes(11)) + "$" + hex.EncodeToString(g.bytes(32))
}

// asciiName lowercases s and keeps only ASCII letters and digits, for usernames and emails.
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}
