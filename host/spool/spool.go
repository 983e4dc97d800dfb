// Package spool is a bounded on-disk queue of records waiting for the
// store: closed segments and run markers are written here before the store
// is tried, so a store outage or a killed host loses none of them
// (docs/DURABILITY.md).
//
// Each record is one file, written whole: a temporary file is filled,
// synced and renamed into place, then the directory is synced. A crash
// leaves either the whole record or none; a record that fails its checksum
// on reading (a disk that lied) is moved to rejected/ with the reason, never
// dropped silently.
package spool

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// ErrFull is returned by Append when the record would take the spool past
// its bound.
var ErrFull = errors.New("spool full")

// ErrLocked is returned by Open when another process has the spool open.
var ErrLocked = errors.New("spool in use by another process")

// ErrCorrupt is returned by Read for a record whose header or checksum is
// wrong.
var ErrCorrupt = errors.New("corrupt spool record")

const (
	magic      = "LSIESPL1"
	headerSize = len(magic) + 8 + 4 // magic, payload length, CRC-32C
	ext        = ".rec"
	// RejectedDir is the folder, inside the spool, of records that can
	// never be stored; each has a .why file beside it.
	RejectedDir = "rejected"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one record in the spool.
type Record struct {
	Seq  uint64
	Size int64 // bytes on disk
}

func (r Record) name() string { return fmt.Sprintf("%020d%s", r.Seq, ext) }

// Spool is a FIFO of records in one directory. Append, Read, Remove and
// Reject belong to one goroutine (the host's store writer); Len, Bytes and
// Rejected may be read from any.
type Spool struct {
	dir     string
	max     int64
	pending []Record
	next    uint64
	// NoSync skips fsync (tests of logic only; never in the host).
	NoSync bool
	lock   *os.File // holds the directory's flock while open

	n, bytes, rejected atomic.Int64
}

// Open opens (creating it) the spool in dir, bounded to max bytes of
// records (limit <= 0: unbounded). Records left by an earlier process are
// pending again, oldest first; half-written temporary files are removed.
func Open(dir string, limit int64) (*Spool, error) {
	if err := os.MkdirAll(filepath.Join(dir, RejectedDir), 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	// Two hosts on one spool would store each other's records out of
	// order: the second is refused.
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool %s: %w (another lsie-host with the same store?): %w", dir, ErrLocked, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, max: limit, next: 1, lock: lock}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // never renamed: never accepted
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ext) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
		if err != nil {
			continue // not ours
		}
		info, err := e.Info()
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("spool %s: %w", dir, err)
		}
		s.pending = append(s.pending, Record{Seq: seq, Size: info.Size()})
		s.bytes.Add(info.Size())
		s.next = max(s.next, seq+1)
	}
	slices.SortFunc(s.pending, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	s.n.Store(int64(len(s.pending)))
	if rej, err := os.ReadDir(filepath.Join(dir, RejectedDir)); err == nil {
		for _, e := range rej {
			if strings.HasSuffix(e.Name(), ext) {
				s.rejected.Add(1)
			}
		}
	}
	return s, nil
}

// Close releases the spool's lock; its records stay for the next Open.
func (s *Spool) Close() error { return s.lock.Close() }

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Max is the bound in bytes (<= 0: none).
func (s *Spool) Max() int64 { return s.max }

// Len is the number of pending records.
func (s *Spool) Len() int64 { return s.n.Load() }

// Bytes is the size of the pending records on disk.
func (s *Spool) Bytes() int64 { return s.bytes.Load() }

// Rejected counts the records in rejected/.
func (s *Spool) Rejected() int64 { return s.rejected.Load() }

// Fits reports whether a record of n payload bytes would fit now.
func (s *Spool) Fits(n int) bool {
	return s.max <= 0 || s.bytes.Load()+int64(n+headerSize) <= s.max
}

// Append writes payload as the newest record and returns once it is on
// disk. ErrFull when it does not fit.
func (s *Spool) Append(payload []byte) (Record, error) {
	if !s.Fits(len(payload)) {
		return Record{}, fmt.Errorf("%w: %d of %d bytes used, record of %d bytes", ErrFull, s.bytes.Load(), s.max, len(payload)+headerSize)
	}
	return s.AppendOver(payload)
}

// AppendOver is Append without the bound: for a host about to exit, for
// which past the bound beats lost.
func (s *Spool) AppendOver(payload []byte) (Record, error) {
	r := Record{Seq: s.next, Size: int64(len(payload) + headerSize)}
	buf := make([]byte, headerSize, headerSize+len(payload))
	copy(buf, magic)
	binary.BigEndian.PutUint64(buf[len(magic):], uint64(len(payload)))
	binary.BigEndian.PutUint32(buf[len(magic)+8:], crc32.Checksum(payload, castagnoli))
	buf = append(buf, payload...)
	if err := s.writeFile(r.name(), buf); err != nil {
		return Record{}, err
	}
	s.next++
	s.pending = append(s.pending, r)
	s.n.Add(1)
	s.bytes.Add(r.Size)
	return r, nil
}

func (s *Spool) writeFile(name string, data []byte) (err error) {
	tmp := filepath.Join(s.dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil && !s.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: write %s: %w", name, err)
	}
	if err = os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return s.syncDir()
}

// syncDir makes a rename or removal in the directory durable.
func (s *Spool) syncDir() error {
	if s.NoSync {
		return nil
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync %s: %w", s.dir, err)
	}
	return nil
}

// Pending lists the pending records, oldest first.
func (s *Spool) Pending() []Record { return slices.Clone(s.pending) }

// Oldest is the first pending record.
func (s *Spool) Oldest() (Record, bool) {
	if len(s.pending) == 0 {
		return Record{}, false
	}
	return s.pending[0], true
}

// Read returns a record's payload, checked against its header; an error
// wrapping ErrCorrupt when it does not match.
func (s *Spool) Read(r Record) ([]byte, error) {
	return readFile(filepath.Join(s.dir, r.name()), r.Seq)
}

// ReadRejected returns the payloads of the rejected records, oldest first,
// each with its reason (or the error reading it).
func (s *Spool) ReadRejected() (payloads [][]byte, why []string) {
	dir := filepath.Join(s.dir, RejectedDir)
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		name := de.Name()
		if !strings.HasSuffix(name, ext) {
			continue
		}
		seq, _ := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
		b, err := readFile(filepath.Join(dir, name), seq)
		w, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(name, ext)+".why"))
		reason := strings.TrimSpace(string(w))
		if err != nil {
			reason = err.Error()
		}
		payloads, why = append(payloads, b), append(why, reason)
	}
	return payloads, why
}

func readFile(path string, seq uint64) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	r := Record{Seq: seq}
	if len(b) < headerSize || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("spool record %d: %w: bad header", r.Seq, ErrCorrupt)
	}
	n := binary.BigEndian.Uint64(b[len(magic):])
	payload := b[headerSize:]
	if uint64(len(payload)) != n {
		return nil, fmt.Errorf("spool record %d: %w: %d payload bytes, header says %d", r.Seq, ErrCorrupt, len(payload), n)
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[len(magic)+8:]) {
		return nil, fmt.Errorf("spool record %d: %w: checksum mismatch", r.Seq, ErrCorrupt)
	}
	return payload, nil
}

// Remove deletes the oldest record r once it is stored.
func (s *Spool) Remove(r Record) error {
	if err := s.pop(r); err != nil {
		return err
	}
	// No directory sync: a removal forgotten by a crash brings the record
	// back, and saving it again is a no-op (the store's saves are
	// idempotent).
	if err := os.Remove(filepath.Join(s.dir, r.name())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Reject moves the oldest record r to rejected/ with why beside it: it
// can never be stored, and is kept for an operator rather than lost.
func (s *Spool) Reject(r Record, why string) error {
	if err := s.pop(r); err != nil {
		return err
	}
	dst := filepath.Join(s.dir, RejectedDir, r.name())
	if err := os.WriteFile(strings.TrimSuffix(dst, ext)+".why", []byte(why+"\n"), 0o600); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := os.Rename(filepath.Join(s.dir, r.name()), dst); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.rejected.Add(1)
	return s.syncDir()
}

func (s *Spool) pop(r Record) error {
	if len(s.pending) == 0 || s.pending[0].Seq != r.Seq {
		return fmt.Errorf("spool: record %d is not the oldest", r.Seq)
	}
	s.pending = s.pending[1:]
	s.n.Add(-1)
	s.bytes.Add(-r.Size)
	return nil
}
