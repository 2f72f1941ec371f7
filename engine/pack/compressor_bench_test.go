package pack

import (
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// cpuTime is the process's user + system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStream is what the package writer's compressor is given: with EDMSDR_PACK_BENCH_TAR=FILE
// a real package's tar stream (`zstd -d PACKAGE -o FILE`), else 64 MiB of hex rows and text
// rows half and half.
func benchStream(tb testing.TB) []byte {
	if path := os.Getenv("EDMSDR_PACK_BENCH_TAR"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		return data
	}
	rng := rand.New(rand.NewSource(1))
	var b strings.Builder
	value := make([]byte, 3000)
	for i := 0; b.Len() < 32<<20; i++ {
		rng.Read(value)
		b.WriteString("17\t\\\\x")
		b.WriteString(hex.EncodeToString(value))
		b.WriteString("\t2026-12-05 18:00:00+00\n")
	}
	for i := 0; b.Len() < 64<<20; i++ {
		b.WriteString("4711\tdocuments.document\t{\"title\": \"a title\", \"n\": ")
		b.WriteString(strings.Repeat("7", i%13))
		b.WriteString("}\t2026-12-05 18:00:00+00\n")
	}
	return []byte(b.String())
}

// BenchmarkCompressor compresses the stream as the package writer does (1 MiB writes) with every
// frame by the encoder (matches) and with literals-only frames where they pay (literals),
// interleaved: CPU seconds per pass (user + system, the encoder's goroutines included) and
// compressed bytes.
func BenchmarkCompressor(b *testing.B) {
	data := benchStream(b)
	for _, mode := range []struct {
		name     string
		literals bool
	}{{"matches", false}, {"literals", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out, lit int64
			cpu := cpuTime(b)
			for b.Loop() {
				cnt := &countingWriter{w: io.Discard}
				c, err := newCompressor(cnt, zstd.SpeedFastest, mode.literals)
				if err != nil {
					b.Fatal(err)
				}
				for p := data; len(p) > 0; {
					n := min(len(p), guardStep)
					if _, err := c.Write(p[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				out, lit = cnt.n.Load(), c.litIn
			}
			b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(out), "bytes-out")
			b.ReportMetric(float64(lit)/float64(len(data)), "lit-share")
		})
	}
}
