package digest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// BenchmarkHasher hashes COPY text as the backup's Hasher does (every column hashed, rows passed
// on to io.Discard), in the read-ahead's 512 KiB blocks. EDMSDR_HASH_BENCH_DIR names a directory
// of COPY text files (one table each, as drill/idpath.CopyOut writes them) to hash instead of the
// synthetic EDMS-like rows.
func BenchmarkHasher(b *testing.B) {
	tables := benchTables(b)
	var total int64
	for _, t := range tables {
		total += int64(len(t))
	}
	b.SetBytes(total)
	b.ResetTimer()
	c0 := cpuTime()
	for range b.N {
		for _, t := range tables {
			n := bytes.Count(t[:bytes.IndexByte(t, '\n')+1], []byte{'\t'}) + 1
			h := &Hasher{dst: io.Discard, ncols: n, nfields: n, order: make([]int, n)}
			for i := range h.order {
				h.order[i] = i
			}
			for p := t; len(p) > 0; {
				k := min(len(p), 512<<10)
				if _, err := h.Write(p[:k]); err != nil {
					b.Fatal(err)
				}
				p = p[k:]
			}
			if _, err := h.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// The machine is shared: the process's CPU time says more than the wall.
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e9, "cpu-s/op")
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchTables(b *testing.B) [][]byte {
	if dir := os.Getenv("EDMSDR_HASH_BENCH_DIR"); dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			b.Fatal(err)
		}
		sort.Strings(files)
		var out [][]byte
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			if len(data) > 0 {
				out = append(out, data)
			}
		}
		return out
	}
	// Synthetic: ids, references, a timestamp, a short text with spaces, a word, a hex bytea.
	rng := rand.New(rand.NewPCG(3, 4))
	var t []byte
	for i := range 200000 {
		hex := make([]byte, 2*rng.IntN(200))
		for k := range hex {
			hex[k] = "0123456789abcdef"[rng.IntN(16)]
		}
		t = fmt.Appendf(t, "%d\t%d\t2024-01-%02d 10:11:%02d.357554+00\tScored in vice, mixed just.\tapplication/pdf\t\\\\x%s\t\\N\n",
			i, rng.IntN(100000), 1+i%28, i%60, hex)
	}
	return [][]byte{t}
}
