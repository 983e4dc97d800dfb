package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustOpen(t *testing.T, dir string, limit int64) *Spool {
	t.Helper()
	s, err := Open(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes s and opens its directory again, as a restarted host does.
func reopen(t *testing.T, s *Spool, limit int64) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, s.Dir(), limit)
}

// A second process (here: a second Open) cannot share a spool.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0)
	if _, err := Open(dir, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	reopen(t, s, 0)
}

// Records come back in the order they were appended, across a reopen (a
// restarted host), and Remove takes only the oldest.
func TestOrderAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0)
	for i := range 12 {
		if _, err := s.Append(fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := s.Oldest()
	if err := s.Remove(Record{Seq: r.Seq + 1}); err == nil {
		t.Fatal("Remove of a record that is not the oldest succeeded")
	}
	for range 2 {
		r, _ := s.Oldest()
		if err := s.Remove(r); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, 0)
	if s.Len() != 10 {
		t.Fatalf("reopened: %d records, want 10", s.Len())
	}
	if _, err := s.Append([]byte("record 12")); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 12; i++ {
		r, ok := s.Oldest()
		if !ok {
			t.Fatalf("record %d missing", i)
		}
		b, err := s.Read(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("record %d", i); string(b) != want {
			t.Fatalf("read %q, want %q", b, want)
		}
		if err := s.Remove(r); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("empty spool: len %d, bytes %d", s.Len(), s.Bytes())
	}
}

// The bound is never passed: Append says ErrFull, and the record that did
// not fit is not on disk.
func TestBound(t *testing.T) {
	dir := t.TempDir()
	payload := make([]byte, 100)
	s := mustOpen(t, dir, 3*int64(len(payload)+headerSize))
	for range 3 {
		if _, err := s.Append(payload); err != nil {
			t.Fatal(err)
		}
	}
	if s.Fits(len(payload)) {
		t.Error("Fits says a fourth record fits")
	}
	if _, err := s.Append(payload); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth Append: %v, want ErrFull", err)
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	if len(ents) != 3 {
		t.Errorf("%d record files, want 3", len(ents))
	}
	r, _ := s.Oldest()
	if err := s.Remove(r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(payload); err != nil {
		t.Errorf("Append after a removal: %v", err)
	}
}

// A temporary file (a crash mid-write) is not a record; a flipped byte or a
// truncated file is ErrCorrupt, and Reject keeps it with the reason.
func TestCrashAndCorruption(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0)
	for i := range 3 {
		if _, err := s.Append(fmt.Appendf(nil, "segment %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s.tmp", 4, ext)), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flip one payload byte of record 1, truncate record 2.
	p1 := filepath.Join(dir, Record{Seq: 1}.name())
	b, _ := os.ReadFile(p1)
	b[len(b)-1] ^= 0x40
	_ = os.WriteFile(p1, b, 0o600)
	p2 := filepath.Join(dir, Record{Seq: 2}.name())
	_ = os.Truncate(p2, 10)

	s = reopen(t, s, 0)
	if s.Len() != 3 {
		t.Fatalf("%d records after reopen, want 3 (the temporary file is not one)", s.Len())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for _, want := range []string{"checksum mismatch", "bad header"} {
		r, _ := s.Oldest()
		_, err := s.Read(r)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("record %d: %v, want ErrCorrupt (%s)", r.Seq, err, want)
		}
		if err := s.Reject(r, err.Error()); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := s.Oldest()
	if b, err := s.Read(r); err != nil || string(b) != "segment 2" {
		t.Fatalf("record 3: %q, %v", b, err)
	}
	why, err := os.ReadFile(filepath.Join(dir, RejectedDir, fmt.Sprintf("%020d.why", 1)))
	if err != nil || !strings.Contains(string(why), "checksum mismatch") {
		t.Errorf("reason of the rejected record: %q, %v", why, err)
	}
	if s.Rejected() != 2 || reopen(t, s, 0).Rejected() != 2 {
		t.Errorf("rejected: %d", s.Rejected())
	}
}

func BenchmarkAppendRemove(b *testing.B) {
	s, err := Open(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 16<<10) // a segment with a few hundred items
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		r, err := s.Append(payload)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(r); err != nil {
			b.Fatal(err)
		}
	}
}
