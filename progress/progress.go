// Package progress is how the CLIs (edmsdr, edmsdr-drill) report what they are doing: progress
// bars on a terminal (mpb), fed by the events the engine and the drill log — a table copied by a
// backup, a table's rows inserted by a restore, a drill phase done — and structured slog lines
// (text or JSON) everywhere else. Libraries only log; this package decides how it shows.
package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// The events the bars follow: messages logged by engine/backup, engine/restore and drill/.
const (
	EventTableCopied  = "table copied"     // backup: table, rows, bytes
	EventInserted     = "inserted"         // restore: table, rows
	EventDrillPhase   = "drill phase done" // drill: phase, elapsed
	EventDrillPackage = "drill package"    // drill: tables, rows (the restore's total)
)

// Options choose the output.
type Options struct {
	// Format is "text" or "json" for slog lines, or "" for progress bars when w is a terminal
	// (and text lines otherwise).
	Format string
	// Verbose logs every event (debug level) as lines, bars or not.
	Verbose bool
	// DrillSteps is how many phases the drill will report (the drill bar's total, for its ETA);
	// 0 when not a drill.
	DrillSteps int
}

// New returns the logger for w and the function that ends the output (completes the bars; call
// it once, when the command is done). A Format other than "", "text" or "json" is an error.
func New(w io.Writer, opts Options) (*slog.Logger, func(), error) {
	level := slog.LevelWarn
	switch {
	case opts.Verbose:
		level = slog.LevelDebug
	case opts.Format != "":
		level = slog.LevelInfo // lines were asked for: the progress events too
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch opts.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), func() {}, nil
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), func() {}, nil
	case "":
	default:
		return nil, nil, fmt.Errorf("log format %q: want text or json", opts.Format)
	}
	if opts.Verbose || !IsTerminal(w) {
		return slog.New(slog.NewTextHandler(w, hopts)), func() {}, nil
	}
	log, stop := barLogger(w, opts.DrillSteps)
	return log, stop, nil
}

// barLogger returns a logger drawing bars on w (a terminal, or anything in tests).
func barLogger(w io.Writer, steps int) (*slog.Logger, func()) {
	b := &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh()), steps: steps}
	b.lines = slog.NewTextHandler(b.p, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(&handler{b: b, lines: b.lines}), b.stop
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bars holds the progress bars, created as their first event arrives.
type bars struct {
	p     *mpb.Progress
	lines slog.Handler
	steps int

	mu                      sync.Mutex
	drill, backup, restore  *mpb.Bar
	backupBytes             int64
	lastBackup, lastRestore time.Time
	table                   string
	restoreTotal            int64
	stopped                 bool
}

func (b *bars) stop() {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	for _, bar := range []*mpb.Bar{b.drill, b.backup, b.restore} {
		if bar != nil && !bar.Completed() {
			bar.SetTotal(-1, true)
		}
	}
	b.mu.Unlock()
	b.p.Wait()
}

func (b *bars) counter(name, unit string, total int64, extra func() string) *mpb.Bar {
	eta := decor.Any(func(decor.Statistics) string { return "" })
	if total > 0 {
		eta = decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), "done")
	}
	return b.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 8}),
			decor.Any(func(s decor.Statistics) string {
				if s.Total > 0 {
					return fmt.Sprintf("%d/%d %s", s.Current, s.Total, unit)
				}
				return fmt.Sprintf("%d %s", s.Current, unit)
			}, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.AverageSpeed(nil, "%.0f "+unit+"/s", decor.WCSyncSpace), eta,
			decor.Any(func(decor.Statistics) string { return extra() }, decor.WCSyncSpace)))
}

// since returns the time since *last (a second the first time) and sets *last to now: the
// duration of one increment, for the bars' moving averages.
func since(last *time.Time) time.Duration {
	now := time.Now()
	d := time.Second
	if !last.IsZero() {
		d = now.Sub(*last)
	}
	*last = now
	return d
}

func (b *bars) event(r slog.Record) {
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	switch r.Message {
	case EventTableCopied:
		if b.backup == nil {
			b.backup = b.counter("backup", "rows", 0, func() string {
				b.mu.Lock()
				defer b.mu.Unlock()
				return fmt.Sprintf("%.1f MiB, %s", float64(b.backupBytes)/(1<<20), b.table)
			})
		}
		b.backupBytes += attrs["bytes"].Int64()
		b.table = attrs["table"].String()
		b.backup.EwmaIncrInt64(attrs["rows"].Int64(), since(&b.lastBackup))
	case EventDrillPackage:
		b.restoreTotal = attrs["rows"].Int64()
	case EventInserted:
		if b.restore == nil {
			b.restore = b.counter("restore", "rows", b.restoreTotal, func() string {
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.table
			})
		}
		b.table = attrs["table"].String()
		b.restore.EwmaIncrInt64(attrs["rows"].Int64(), since(&b.lastRestore))
	case EventDrillPhase:
		phase := attrs["phase"].String()
		if b.steps > 0 {
			if b.drill == nil {
				b.drill = b.counter("drill", "steps", int64(b.steps), func() string { return "" })
			}
			b.drill.EwmaIncrement(attrs["elapsed"].Duration())
		}
		switch phase {
		case "backup":
			if b.backup != nil {
				b.backup.SetTotal(-1, true)
			}
		case "restore":
			if b.restore != nil {
				b.restore.SetTotal(-1, true)
			}
		}
	}
}

// handler feeds the bars with the events and prints warnings and errors above them.
type handler struct {
	b     *bars
	lines slog.Handler
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.lines.Handle(ctx, r)
	}
	h.b.event(r)
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{b: h.b, lines: h.lines.WithAttrs(as)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{b: h.b, lines: h.lines.WithGroup(name)}
}
