package audit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrSpoolFull is returned by Spool.Put when a batch would exceed the limit.
var ErrSpoolFull = errors.New("audit: spool full")

// ErrCorrupt marks a spool file that cannot be read back; it is removed.
var ErrCorrupt = errors.New("audit: corrupt spool file")

// Spool keeps batches of AuditEvents on disk while the audit server cannot
// take them, one file per batch, oldest first. It is safe for concurrent use,
// and several shippers may share one (a config reload briefly runs two):
// a batch is claimed by one shipper at a time, so none is sent twice.
//
// A file is written to a temporary name and renamed, so a crash leaves
// either a whole batch or none.
type Spool struct {
	dir string

	mu      sync.Mutex
	limit   int64
	bytes   int64
	next    uint64
	files   []spoolFile // ordered by seq
	claimed map[uint64]bool
}

type spoolFile struct {
	seq  uint64
	size int64
}

// Batch is a claimed spool file.
type Batch struct {
	seq    uint64
	Events []json.RawMessage
}

const (
	spoolExt = ".json"
	tmpExt   = ".tmp"
)

// OpenSpool opens (creating it if needed) the spool in dir, holding at most
// limit bytes. Batches left by an earlier run are kept and sent first;
// half-written files are removed.
func OpenSpool(dir string, limit int64) (*Spool, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("audit: spool limit must be positive, got %d", limit)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: creating spool directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: reading spool directory: %w", err)
	}
	s := &Spool{dir: dir, limit: limit, claimed: make(map[uint64]bool)}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpExt) {
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, spoolExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, spoolExt) || !e.Type().IsRegular() {
			continue // not ours
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("audit: reading spool file %s: %w", name, err)
		}
		s.files = append(s.files, spoolFile{seq: seq, size: info.Size()})
		s.bytes += info.Size()
		s.next = max(s.next, seq+1)
	}
	slices.SortFunc(s.files, func(a, b spoolFile) int { return cmp.Compare(a.seq, b.seq) })
	return s, nil
}

// SetLimit changes the limit; batches already held stay.
func (s *Spool) SetLimit(limit int64) {
	s.mu.Lock()
	s.limit = limit
	s.mu.Unlock()
}

// Dir returns the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Bytes returns the bytes held.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Len returns the number of batches held, claimed or not.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}

// Put stores a batch after all others. It returns ErrSpoolFull, storing
// nothing, when the batch would take the spool over its limit.
func (s *Spool) Put(events []json.RawMessage) error {
	data, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("audit: encoding spool batch: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes+int64(len(data)) > s.limit {
		return ErrSpoolFull
	}
	seq := s.next
	if err := s.write(seq, data); err != nil {
		return err
	}
	s.next++
	s.files = append(s.files, spoolFile{seq: seq, size: int64(len(data))})
	s.bytes += int64(len(data))
	return nil
}

// Claim returns the oldest batch no one has claimed, or nil when there is
// none. A file that cannot be read back is removed and reported as
// ErrCorrupt.
func (s *Spool) Claim() (*Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.files {
		if s.claimed[f.seq] {
			continue
		}
		data, err := os.ReadFile(s.path(f.seq))
		if err == nil {
			var events []json.RawMessage
			if events, err = decodeBatch(data); err == nil {
				s.claimed[f.seq] = true
				return &Batch{seq: f.seq, Events: events}, nil
			}
		}
		s.drop(i)
		return nil, fmt.Errorf("%w %s: %w", ErrCorrupt, s.path(f.seq), err)
	}
	return nil, nil
}

// Done removes a claimed batch: it was delivered.
func (s *Spool) Done(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.unclaim(b); i >= 0 {
		return s.drop(i)
	}
	return nil
}

// Release gives a claimed batch back, unchanged.
func (s *Spool) Release(b *Batch) {
	s.mu.Lock()
	delete(s.claimed, b.seq)
	s.mu.Unlock()
}

// Replace keeps only the given events of a claimed batch (those still to be
// delivered) in its place and releases it.
func (s *Spool) Replace(b *Batch, events []json.RawMessage) error {
	if len(events) == 0 {
		return s.Done(b)
	}
	data, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("audit: encoding spool batch: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.unclaim(b)
	if i < 0 {
		return nil
	}
	if err := s.write(b.seq, data); err != nil {
		return err
	}
	s.bytes += int64(len(data)) - s.files[i].size
	s.files[i].size = int64(len(data))
	return nil
}

// unclaim releases b and returns its index in s.files, or -1 when it is
// gone; s.mu is held.
func (s *Spool) unclaim(b *Batch) int {
	delete(s.claimed, b.seq)
	return slices.IndexFunc(s.files, func(f spoolFile) bool { return f.seq == b.seq })
}

// drop removes file i; s.mu is held.
func (s *Spool) drop(i int) error {
	f := s.files[i]
	s.files = slices.Delete(s.files, i, i+1)
	s.bytes -= f.size
	if err := os.Remove(s.path(f.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: removing spool file: %w", err)
	}
	return nil
}

// write writes a batch file atomically; s.mu is held.
func (s *Spool) write(seq uint64, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, "*"+tmpExt)
	if err != nil {
		return fmt.Errorf("audit: writing spool file: %w", err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(seq))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("audit: writing spool file: %w", err)
	}
	return nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, spoolExt))
}

// decodeBatch reads a spool file: a JSON array of JSON objects.
func decodeBatch(data []byte) ([]json.RawMessage, error) {
	var events []json.RawMessage
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, err
	}
	for i, e := range events {
		if !bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) {
			return nil, fmt.Errorf("entry %d is not a JSON object", i)
		}
	}
	return events, nil
}
