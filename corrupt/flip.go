package corrupt

import "fmt"

// Level is where Flip damages a package.
type Level string

// Levels.
const (
	// Compressed flips bits of the package file itself.
	Compressed Level = "compressed"
	// Uncompressed flips bits of the decompressed tar stream (entry headers, data, padding) and
	// compresses it again, so that zstd's own checksum is not what catches the damage.
	Uncompressed Level = "uncompressed"
)

// Flip returns a copy of pkg with n bits flipped at positions drawn from seed, at level, and the
// byte offsets it flipped (in the file, or in the tar stream).
func Flip(pkg []byte, level Level, n int, seed int64) ([]byte, []int, error) {
	r := rng(seed, "flip-"+string(level))
	var buf []byte
	switch level {
	case Compressed:
		buf = append([]byte(nil), pkg...)
	case Uncompressed:
		raw, err := Decompress(pkg)
		if err != nil {
			return nil, nil, err
		}
		buf = raw
	default:
		return nil, nil, fmt.Errorf("flip: unknown level %q", level)
	}
	if len(buf) == 0 {
		return nil, nil, fmt.Errorf("flip: empty input: %w", ErrNotApplicable)
	}
	at := make([]int, n)
	for i := range at {
		at[i] = r.IntN(len(buf))
		buf[at[i]] ^= 1 << r.IntN(8)
	}
	if level == Uncompressed {
		out, err := Compress(buf)
		return out, at, err
	}
	return buf, at, nil
}
