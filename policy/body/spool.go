package body

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"sync"
)

// Defaults for Options.
const (
	// DefaultMemory is how much of a body is held in memory before it
	// spills to a temporary file: 1 MiB.
	DefaultMemory int64 = 1 << 20
	// DefaultMax is the largest body accepted when Options.Max is zero: 1 GiB.
	DefaultMax int64 = 1 << 30
)

var (
	// ErrTooLarge reports a body longer than Options.Max. Answer 413.
	ErrTooLarge = errors.New("body: too large")
	// ErrStorage reports that the temporary file could not be written: a
	// fault of the gateway, not of the client.
	ErrStorage = errors.New("body: temporary storage failed")
)

// Options bound a Spool.
type Options struct {
	// Memory is how many bytes are held in memory; a longer body spills to
	// a temporary file. Default: DefaultMemory (1 MiB). Negative: always
	// spill.
	Memory int64
	// Max is the largest body accepted, in bytes. Default: DefaultMax
	// (1 GiB). There is no "unlimited".
	Max int64
	// Dir is where temporary files go. Default: os.TempDir().
	Dir string
	// Hashes are computed over the body while it is read; Spooled.Sum
	// returns them. Each must be available (linked into the binary).
	Hashes []crypto.Hash
}

func (o Options) withDefaults() Options {
	if o.Memory == 0 {
		o.Memory = DefaultMemory
	}
	if o.Memory < 0 {
		o.Memory = 0
	}
	if o.Max <= 0 {
		o.Max = DefaultMax
	}
	return o
}

// Spooled is a body read to the end: its bytes (in memory or in a temporary
// file), its size and its hashes. It is safe for concurrent readers.
type Spooled struct {
	size int64
	mem  []byte
	file *os.File
	// path is the temporary file's name while it still has to be removed
	// (where unlinking an open file is not allowed).
	path string
	sums map[crypto.Hash][]byte

	once sync.Once
}

// copyBuffer is large enough that a gigabyte costs few system calls and
// small enough to keep per-request memory low.
const copyBuffer = 64 << 10

// Spool reads r to the end, or to opt.Max+1 bytes, whichever comes first.
// On error nothing is left behind; on success the caller must call Cleanup.
func Spool(r io.Reader, opt Options) (*Spooled, error) {
	return spool(r, opt, -1)
}

// SpoolRequest spools r.Body. A declared Content-Length over the limit fails
// at once, without reading; a limit set by an earlier http.MaxBytesReader
// counts as ErrTooLarge too.
func SpoolRequest(r *http.Request, opt Options) (*Spooled, error) {
	opt = opt.withDefaults()
	if r.ContentLength > opt.Max {
		return nil, fmt.Errorf("%w: declared %d bytes, limit %d", ErrTooLarge, r.ContentLength, opt.Max)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return spool(http.NoBody, opt, 0)
	}
	sp, err := spool(r.Body, opt, r.ContentLength)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("%w: limit %d set before the gateway: %w", ErrTooLarge, mbe.Limit, err)
	}
	return sp, err
}

func spool(r io.Reader, opt Options, hint int64) (_ *Spooled, err error) {
	opt = opt.withDefaults()
	hashers := make([]hash.Hash, len(opt.Hashes))
	writers := make([]io.Writer, 0, len(opt.Hashes)+1)
	for i, h := range opt.Hashes {
		if !h.Available() {
			return nil, fmt.Errorf("body: hash %v is not available", h)
		}
		hashers[i] = h.New()
		writers = append(writers, hashers[i])
	}
	sp := &Spooled{}
	w := &spoolWriter{sp: sp, opt: opt}
	if hint > 0 && hint <= opt.Memory {
		sp.mem = make([]byte, 0, hint)
	}
	defer func() {
		if err != nil {
			sp.Cleanup()
		}
	}()
	writers = append(writers, w)

	// A declared length smaller than the copy buffer needs no more: one
	// read fills it, the next sees EOF (or the excess).
	bufSize := int64(copyBuffer)
	if hint >= 0 && hint < bufSize {
		bufSize = hint + 1
	}
	n, err := io.CopyBuffer(io.MultiWriter(writers...), io.LimitReader(r, opt.Max+1), make([]byte, bufSize))
	switch {
	case w.err != nil:
		return nil, w.err
	case err != nil:
		return nil, fmt.Errorf("body: reading: %w", err)
	case n > opt.Max:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, opt.Max)
	}
	sp.size = n
	if len(hashers) > 0 {
		sp.sums = make(map[crypto.Hash][]byte, len(hashers))
		for i, h := range opt.Hashes {
			sp.sums[h] = hashers[i].Sum(nil)
		}
	}
	return sp, nil
}

// spoolWriter keeps the first opt.Memory bytes in memory and moves
// everything to a temporary file once that is exceeded.
type spoolWriter struct {
	sp  *Spooled
	opt Options
	err error // a storage error, told apart from read errors
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	sp := w.sp
	if sp.file == nil && int64(len(sp.mem))+int64(len(p)) <= w.opt.Memory {
		sp.mem = append(sp.mem, p...)
		return len(p), nil
	}
	if sp.file == nil {
		if err := w.spill(); err != nil {
			w.err = err
			return 0, err
		}
	}
	n, err := sp.file.Write(p)
	if err != nil {
		w.err = fmt.Errorf("%w: writing: %w", ErrStorage, err)
		return n, w.err
	}
	return n, nil
}

func (w *spoolWriter) spill() error {
	f, err := os.CreateTemp(w.opt.Dir, "healthgate-body-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	sp := w.sp
	sp.file = f
	// Unlink at once: the open descriptor keeps the data, and the name can
	// never be left behind, not even by a crash. Where the system refuses,
	// Cleanup removes it.
	if os.Remove(f.Name()) != nil {
		sp.path = f.Name()
	}
	if _, err := f.Write(sp.mem); err != nil {
		return fmt.Errorf("%w: writing: %w", ErrStorage, err)
	}
	sp.mem = nil
	return nil
}

// Size is the body's length in bytes.
func (s *Spooled) Size() int64 { return s.size }

// InMemory reports whether the body is held in memory (no temporary file).
func (s *Spooled) InMemory() bool { return s.file == nil }

// Sum returns the digest of the body for a hash named in Options.Hashes, or
// nil for any other.
func (s *Spooled) Sum(h crypto.Hash) []byte { return s.sums[h] }

// Reader returns a new reader of the body from its first byte. Readers are
// independent of each other. Do not read after Cleanup.
func (s *Spooled) Reader() io.ReadCloser {
	if s.file == nil {
		return &reader{r: bytes.NewReader(s.mem)}
	}
	return &reader{r: io.NewSectionReader(s.file, 0, s.size)}
}

// Replace makes r carry the spooled body: Body, GetBody and a known
// ContentLength (no chunked transfer encoding), so the upstream receives
// exactly the spooled bytes.
func (s *Spooled) Replace(r *http.Request) {
	r.ContentLength = s.size
	r.TransferEncoding = nil
	if s.size == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.Body = s.Reader()
	r.GetBody = func() (io.ReadCloser, error) { return s.Reader(), nil }
}

// Cleanup closes and removes the temporary file, if any. It is safe to call
// more than once and from several goroutines.
func (s *Spooled) Cleanup() {
	s.once.Do(func() {
		s.mem = nil
		if s.file != nil {
			_ = s.file.Close()
		}
		if s.path != "" {
			_ = os.Remove(s.path)
		}
	})
}

// reader is one replay of the body; Close stops it without touching the
// spool, which Cleanup owns.
type reader struct {
	r      io.Reader
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, os.ErrClosed
	}
	return r.r.Read(p)
}

func (r *reader) Close() error {
	r.closed = true
	return nil
}
