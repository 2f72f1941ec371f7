package backup

import (
	"context"
	"errors"
	"io"
)

// Reading ahead of the client's work: pgconn's CopyTo hands each CopyData message (one row) to
// its writer and reads the next only when the writer returns, so whatever the client does with
// a row (parse it, hash it, cut it into entries, checksum and compress them) holds the socket
// unread, and the server, once the socket's buffer is full, waits. A readAhead gathers the rows
// into blocks and hands them to a goroutine of its own that does that work, so that on a machine
// with a core to spare the server's COPY and the client's work overlap. Memory is bounded: at
// most readAheadBlocks blocks of readAheadBlock bytes wait; a row longer than a block is not
// copied but handed over as it is, the reader waiting until it has been written.

const (
	readAheadBlock  = 512 << 10
	readAheadBlocks = 8
)

// readAhead is an io.Writer (what CopyTo writes to) whose data reaches dst on another goroutine.
// Close waits for dst to have received everything and returns the first error writing to it.
type readAhead struct {
	ctx   context.Context
	dst   io.Writer
	block []byte
	free  chan []byte   // empty blocks to fill
	full  chan handoff  // blocks (or long rows) for the writing goroutine
	done  chan struct{} // closed when the writing goroutine has returned
	stop  chan struct{} // closed when the writing goroutine met an error (err is set before)
	err   error         // the writing goroutine's first error
	sent  bool          // full is closed
}

// handoff is a block for dst; ack, when set, is signalled once it was written (the block is the
// caller's own, a row longer than a block, valid only until then).
type handoff struct {
	data []byte
	ack  chan struct{}
}

// readAheadPool returns the blocks one backup's read-aheads share, one table after the other
// (allocated on first use: a small table needs one).
func readAheadPool() chan []byte {
	free := make(chan []byte, readAheadBlocks)
	for i := 0; i < readAheadBlocks; i++ {
		free <- nil
	}
	return free
}

// newReadAhead starts passing what is written to it on to dst, in blocks from free (see
// readAheadPool; nil: a pool of its own). Close gives them all back.
func newReadAhead(ctx context.Context, dst io.Writer, free chan []byte) *readAhead {
	if free == nil {
		free = readAheadPool()
	}
	r := &readAhead{
		ctx:  ctx,
		dst:  dst,
		free: free,
		full: make(chan handoff, readAheadBlocks),
		done: make(chan struct{}),
		stop: make(chan struct{}),
	}
	go r.run()
	return r
}

// run writes what arrives to dst; after an error it drains without writing.
func (r *readAhead) run() {
	defer close(r.done)
	for h := range r.full {
		if r.err == nil {
			if _, err := r.dst.Write(h.data); err != nil {
				r.err = err
				close(r.stop)
			}
		}
		if h.ack != nil {
			close(h.ack)
			continue
		}
		r.free <- h.data[:0]
	}
}

// failed returns the writing goroutine's error if it has stopped on one.
func (r *readAhead) failed() error {
	select {
	case <-r.stop:
		return r.err
	default:
		return nil
	}
}

// Write takes one or more whole rows, or a piece of one (any cut is passed on as it came).
func (r *readAhead) Write(p []byte) (int, error) {
	if r.sent {
		return 0, errors.New("read-ahead: write after close")
	}
	if len(r.block)+len(p) > cap(r.block) && len(r.block) > 0 {
		if err := r.send(handoff{data: r.block}); err != nil {
			return 0, err
		}
		r.block = nil
		if err := r.failed(); err != nil {
			return 0, err
		}
	}
	if len(p) > readAheadBlock {
		ack := make(chan struct{})
		if err := r.send(handoff{data: p, ack: ack}); err != nil {
			return 0, err
		}
		<-ack // p is the caller's: written before Write returns, whatever happens
		if err := r.failed(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if r.block == nil {
		select {
		case b := <-r.free:
			if b == nil {
				b = make([]byte, 0, readAheadBlock)
			}
			r.block = b
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
	r.block = append(r.block, p...)
	return len(p), nil
}

// send hands h to the writing goroutine, unless it has stopped on an error or ctx ends (then h
// was not handed over).
func (r *readAhead) send(h handoff) error {
	select {
	case r.full <- h:
		return nil
	case <-r.stop:
		return r.err
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// Close passes on what is left and waits for the writing goroutine; it returns its first error.
// Close must be called once, whatever happened before (it ends the goroutine).
func (r *readAhead) Close() error {
	if r.sent {
		return errors.New("read-ahead: closed twice")
	}
	var err error
	if len(r.block) > 0 {
		if err = r.send(handoff{data: r.block}); err == nil {
			r.block = nil
		}
	}
	r.sent = true
	close(r.full)
	<-r.done // r.err is final once the goroutine has returned; every block handed over is back
	if r.block != nil {
		r.free <- r.block[:0]
		r.block = nil
	}
	if r.err != nil {
		return r.err
	}
	return err
}
