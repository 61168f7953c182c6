package audit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func raws(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func TestSpool(t *testing.T) {
	t.Run("batches come back oldest first, across a reopen", func(t *testing.T) {
		dir := t.TempDir()
		s := openSpool(t, dir, 1<<20)
		for _, b := range [][]json.RawMessage{raws(`{"id":"a"}`), raws(`{"id":"b"}`, `{"id":"c"}`)} {
			if err := s.Put(b); err != nil {
				t.Fatal(err)
			}
		}
		// A write cut short by a crash leaves only a temporary file.
		if err := os.WriteFile(filepath.Join(dir, "123.tmp"), []byte("[{"), 0o600); err != nil {
			t.Fatal(err)
		}
		s = openSpool(t, dir, 1<<20)
		var got [][]json.RawMessage
		for {
			b, err := s.Claim()
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				break
			}
			got = append(got, b.Events)
			if err := s.Done(b); err != nil {
				t.Fatal(err)
			}
		}
		want := [][]json.RawMessage{raws(`{"id":"a"}`), raws(`{"id":"b"}`, `{"id":"c"}`)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batches (-want +got):\n%s", diff)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 || s.Bytes() != 0 {
			t.Errorf("spool holds %d files, %d bytes after delivery", len(left), s.Bytes())
		}
	})
	t.Run("a claimed batch is not handed out twice", func(t *testing.T) {
		s := openSpool(t, t.TempDir(), 1<<20)
		_ = s.Put(raws(`{"id":"a"}`))
		first, _ := s.Claim()
		second, _ := s.Claim()
		if first == nil || second != nil {
			t.Fatalf("claims %v, %v: want one batch, then none", first, second)
		}
		s.Release(first)
		if again, _ := s.Claim(); again == nil {
			t.Fatal("a released batch cannot be claimed again")
		}
	})
	t.Run("a batch over the limit is refused whole", func(t *testing.T) {
		s := openSpool(t, t.TempDir(), 30)
		if err := s.Put(raws(`{"id":"small"}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(raws(`{"id":"this one does not fit"}`)); !errors.Is(err, ErrSpoolFull) {
			t.Fatalf("Put = %v, want ErrSpoolFull", err)
		}
		if s.Len() != 1 {
			t.Errorf("spool holds %d batches, want 1", s.Len())
		}
	})
	t.Run("replacing a batch keeps its place and its new size", func(t *testing.T) {
		s := openSpool(t, t.TempDir(), 1<<20)
		_ = s.Put(raws(`{"id":"a"}`, `{"id":"b"}`))
		_ = s.Put(raws(`{"id":"c"}`))
		b, _ := s.Claim()
		if err := s.Replace(b, raws(`{"id":"b"}`)); err != nil {
			t.Fatal(err)
		}
		b, _ = s.Claim()
		if diff := cmp.Diff(raws(`{"id":"b"}`), b.Events); diff != "" {
			t.Errorf("replaced batch (-want +got):\n%s", diff)
		}
		if want := int64(len(`[{"id":"b"}]`) + len(`[{"id":"c"}]`)); s.Bytes() != want {
			t.Errorf("Bytes() = %d, want %d", s.Bytes(), want)
		}
	})
	t.Run("an unreadable file is reported corrupt and removed", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000007.json"), []byte(`[1,2]`), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openSpool(t, dir, 1<<20)
		if _, err := s.Claim(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Claim = %v, want ErrCorrupt", err)
		}
		if s.Len() != 0 || s.Bytes() != 0 {
			t.Errorf("corrupt file still counted: %d files, %d bytes", s.Len(), s.Bytes())
		}
		if err := s.Put(raws(`{"id":"after"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "00000000000000000008.json")); err != nil {
			t.Errorf("new batches must sort after the files found: %v", err)
		}
	})
	t.Run("a spool without a limit is refused", func(t *testing.T) {
		if _, err := OpenSpool(t.TempDir(), 0); err == nil {
			t.Fatal("OpenSpool accepted limit 0")
		}
	})
}
