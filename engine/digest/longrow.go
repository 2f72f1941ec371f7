package digest

import (
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/edmsdr/edmsdr/engine/copytext"
)

// Rows too long to gather, left out of a hash taken as the rows are sent (restore). A Hasher or
// a SplitHasher gathers a row cut across writes whole before hashing it, so a row of hundreds of
// MiB would be held in memory. LongRows stops a row at a bound instead: the row is dropped from
// the hash (DropRow) and skipped to its end, and the value of its id column, read from the row's
// own bytes as they pass, is recorded. The caller digests those rows from the restored table by
// id, with the full digest's per-row hash, and adds them to the sum (pack.TableDigest.Add).
//
// The row's fields are read as the server's COPY FROM reads text: a backslash makes the next
// byte data, whatever it is (an escaped tab separates no field, an escaped newline ends no row),
// and the id is unescaped before it is read. Anything that cannot be read for certain (an id
// that is NULL, too long, not an integer as int8out prints it, a row ending before it) is a
// *LongRowError: the caller then drops the shortcut, never guesses.

// RowDropper is a hasher of COPY text rows that gathers a row cut across writes (Hasher,
// SplitHasher) and can drop it.
type RowDropper interface {
	io.Writer
	// DropRow drops the row being gathered (the bytes written since the last whole row) and
	// returns them, valid until the next Write: that row is not hashed, and the caller skips
	// the rest of it, up to and including its newline, before it writes again.
	DropRow() []byte
}

// DropRow drops the row being gathered: see RowDropper.
func (h *Hasher) DropRow() []byte {
	p := h.pending
	h.pending = nil
	return p
}

// DropRow drops the row being gathered: see RowDropper.
func (s *SplitHasher) DropRow() []byte {
	p := s.pending
	s.pending = nil
	return p
}

// LongRowError says why a row longer than the bound cannot be left out and found again by id.
type LongRowError struct{ Why string }

func (e *LongRowError) Error() string { return e.Why }

// maxIDText bounds the text of an id read from a long row: int8out prints at most 20 bytes, and
// escapes (\061 for '1') may spell each of them in four.
const maxIDText = 96

// LongRows passes COPY text rows on to a RowDropper, except a row whose part gathered by it
// would pass max bytes: that row is dropped, skipped to its end, and the id in its field idField
// (0-based; negative: the rows have none) recorded, at most maxIDs of them. A row that arrives
// whole within one write is passed on whatever its length (the hasher reads it in place).
type LongRows struct {
	w       RowDropper
	max     int64
	idField int
	maxIDs  int
	partial int64 // bytes of the row being gathered by w
	// Inside a skipped row:
	skipping bool
	esc      bool   // the bytes read so far end in an unconsumed backslash
	field    int    // the field being read (unescaped tabs seen)
	id       []byte // the id field's text so far
	ids      []int64
	err      error
}

// NewLongRows returns a LongRows in front of w (see LongRows).
func NewLongRows(w RowDropper, max int64, idField, maxIDs int) *LongRows {
	return &LongRows{w: w, max: max, idField: idField, maxIDs: maxIDs}
}

// IDs are the ids of the rows left out, in the order they came.
func (l *LongRows) IDs() []int64 { return l.ids }

// Write takes COPY text in any pieces. An error is the hasher's, or a *LongRowError; either
// ends the writing.
func (l *LongRows) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	for len(p) > 0 {
		if l.skipping {
			rest, ended, err := l.skip(p)
			if err != nil {
				l.err = err
				return 0, err
			}
			if !ended {
				return n, nil
			}
			if err := l.endRow(); err != nil {
				l.err = err
				return 0, err
			}
			p = rest
			continue
		}
		j := bytes.LastIndexByte(p, '\n')
		tail := l.partial + int64(len(p))
		if j >= 0 {
			tail = int64(len(p) - j - 1)
		}
		if tail <= l.max {
			if _, err := l.w.Write(p); err != nil {
				l.err = err
				return 0, err
			}
			l.partial = tail
			return n, nil
		}
		// The row after the last newline (begun in an earlier write when p holds none) is too
		// long to gather: the whole rows before it go on, it is skipped.
		var begun []byte
		if j >= 0 {
			if _, err := l.w.Write(p[:j+1]); err != nil {
				l.err = err
				return 0, err
			}
			p = p[j+1:]
		} else if begun = l.w.DropRow(); int64(len(begun)) != l.partial {
			l.err = fmt.Errorf("digest: the hasher gathered %d bytes of a row, %d were written", len(begun), l.partial)
			return 0, l.err
		}
		if l.idField < 0 {
			l.err = &LongRowError{Why: fmt.Sprintf("a row longer than %d bytes, in a table without an id to find it by", l.max)}
			return 0, l.err
		}
		l.skipping, l.esc, l.field, l.id, l.partial = true, false, 0, l.id[:0], 0
		if _, _, err := l.skip(begun); err != nil { // holds no newline
			l.err = err
			return 0, err
		}
	}
	return n, nil
}

// Close ends the stream: a stream ending inside a skipped row is an error (the hasher's Close
// reports a stream ending inside a row it gathers).
func (l *LongRows) Close() error {
	if l.err != nil {
		return l.err
	}
	if l.skipping {
		return fmt.Errorf("digest: COPY stream ends inside a row longer than %d bytes", l.max)
	}
	return nil
}

// skip reads b inside a skipped row: ended when the row ends in it, rest what follows its newline.
func (l *LongRows) skip(b []byte) (rest []byte, ended bool, err error) {
	e := copytext.NextUnescaped(b, '\n', l.esc)
	row := b
	if e >= 0 {
		row = b[:e]
	}
	if err := l.scanID(row); err != nil {
		return nil, false, err
	}
	if e < 0 {
		l.esc = copytext.EscapedAt(b, len(b), l.esc)
		return nil, false, nil
	}
	l.esc = false
	return b[e+1:], true, nil
}

// scanID follows the fields of a skipped row in b (no row end in it) up to the id field, whose
// raw text it keeps.
func (l *LongRows) scanID(b []byte) error {
	esc := l.esc
	for len(b) > 0 && l.field <= l.idField {
		i := copytext.NextUnescaped(b, '\t', esc)
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if l.field == l.idField {
			if len(l.id)+len(seg) > maxIDText {
				return &LongRowError{Why: fmt.Sprintf("a row longer than %d bytes whose id is longer than %d bytes", l.max, maxIDText)}
			}
			l.id = append(l.id, seg...)
		}
		if i < 0 {
			return nil
		}
		l.field++
		b, esc = b[i+1:], false
	}
	return nil
}

// endRow records the id of the skipped row that just ended.
func (l *LongRows) endRow() error {
	l.skipping = false
	if l.field < l.idField {
		return &LongRowError{Why: fmt.Sprintf("a row longer than %d bytes ends before its id (field %d)", l.max, l.idField+1)}
	}
	id, err := copyInt(l.id)
	if err != nil {
		return &LongRowError{Why: fmt.Sprintf("a row longer than %d bytes whose id cannot be read: %v", l.max, err)}
	}
	if len(l.ids) >= l.maxIDs {
		return &LongRowError{Why: fmt.Sprintf("more than %d rows longer than %d bytes", l.maxIDs, l.max)}
	}
	l.ids = append(l.ids, id)
	return nil
}

// copyInt reads a COPY text field as the integer the server reads from it, where its text,
// unescaped (copytext.Unescape), is that integer as int8out prints it; anything else is an error
// (NULL, text Unescape refuses, and forms an integer column reads but never prints: white space,
// '+', leading zeros, underscores, other bases), so that an id read here is the id the server read.
func copyInt(raw []byte) (int64, error) {
	text, null, err := copytext.Unescape(raw)
	switch {
	case null:
		return 0, fmt.Errorf("NULL")
	case err != nil:
		return 0, fmt.Errorf("%q: %w", raw, err)
	}
	id, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != string(text) {
		return 0, fmt.Errorf("%q is not an integer as the server prints it", text)
	}
	return id, nil
}
