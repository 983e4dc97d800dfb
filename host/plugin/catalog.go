package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Catalog is a plugins directory as one host uses it: which binary runs
// for a plugin name and version constraints, checked against the
// directory's plugins.lock when there is one.
//
// With a lock, a binary is never executed from the plugins directory:
// Prepare copies it into a private directory (0700, made with
// os.MkdirTemp under $XDG_RUNTIME_DIR or os.TempDir), hashing the bytes it
// copies, compares that hash with the lock, makes the copy 0500 and
// executes the copy. What was verified is what runs, however the original
// changes afterwards. Close removes the private directory.
type Catalog struct {
	dir  string
	lock *Lock
	opts Options

	mu   sync.Mutex
	priv string // created on first need
}

// NewCatalog returns the catalog of dir; lock may be nil (no lock in
// force). opts are used to start a plain NAME file to read its version.
func NewCatalog(dir string, lock *Lock, opts Options) *Catalog {
	return &Catalog{dir: dir, lock: lock, opts: opts}
}

// Dir is the plugins directory.
func (c *Catalog) Dir() string { return c.dir }

// Lock is the lock in force, or nil.
func (c *Catalog) Lock() *Lock { return c.lock }

// Resolve picks the newest binary of plugin name that every want allows
// (among the locked versions when there is a lock) and prepares it.
func (c *Catalog) Resolve(name string, wants ...Want) (Binary, error) {
	b, err := pick(c.dir, name, c.lock, c.opts, wants...)
	if err != nil {
		return Binary{}, err
	}
	return c.Prepare(b)
}

// Pick is Resolve without Prepare: the binary that would run, hashed in
// place (not verified, not copied).
func (c *Catalog) Pick(name string, wants ...Want) (Binary, error) {
	b, err := pick(c.dir, name, c.lock, c.opts, wants...)
	if err != nil {
		return Binary{}, err
	}
	if b.SHA256, err = hashFile(b.Path); err != nil {
		return Binary{}, err
	}
	return b, nil
}

// Prepare makes b ready to run. Without a lock it hashes the file in
// place. With one, b's version must have an entry; the file is copied
// into the private directory while hashed, and a copy whose hash is not
// the lock's is removed and refused with a LockMismatchError.
func (c *Catalog) Prepare(b Binary) (Binary, error) {
	if c.lock == nil {
		sum, err := hashFile(b.Path)
		if err != nil {
			return Binary{}, err
		}
		b.SHA256 = sum
		return b, nil
	}
	e, ok := c.lock.Lookup(b.Name, b.Version)
	if !ok {
		return Binary{}, &NotLockedError{Name: b.Name, File: c.lock.File, Files: []string{b.File()}}
	}
	dir, err := c.privateDir()
	if err != nil {
		return Binary{}, err
	}
	path, sum, err := copyHashed(b.Path, dir, b.File())
	if err != nil {
		return Binary{}, fmt.Errorf("plugin %q: copying %s for verification: %w", b.Name, b.Path, err)
	}
	if sum != e.SHA256 {
		_ = os.Remove(path)
		return Binary{}, &LockMismatchError{Name: b.Name, Version: b.Version, Path: b.Path, Expected: e.SHA256, Actual: sum,
			Lock: fmt.Sprintf("%s:%d", c.lock.File, e.Line)}
	}
	if err := os.Chmod(path, 0o500); err != nil {
		_ = os.Remove(path)
		return Binary{}, err
	}
	b.ExecPath, b.SHA256, b.Locked = path, sum, true
	return b, nil
}

// copyHashed copies src to a new file in dir named file (or file.RANDOM
// if that exists), returning its path and the sha256 of the bytes written.
func copyHashed(src, dir, file string) (string, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", "", err
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		out, err = os.CreateTemp(dir, file+".*")
	}
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out.Name())
		return "", "", err
	}
	return out.Name(), hex.EncodeToString(h.Sum(nil)), nil
}

// privateDir creates the directory for verified copies on first use.
func (c *Catalog) privateDir() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.priv != "" {
		return c.priv, nil
	}
	base := os.TempDir()
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		if info, err := os.Stat(xdg); err == nil && info.IsDir() {
			base = xdg
		}
	}
	if c.opts.RunDir != nil {
		base = c.opts.RunDir.Bin() // swept by the next host if this one is killed
	}
	dir, err := os.MkdirTemp(base, "lsie-plugins-")
	if err != nil {
		return "", fmt.Errorf("private plugin directory: %w", err)
	}
	// MkdirTemp makes it 0700; make sure, and that it is ours.
	if err := checkPrivate(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("private plugin directory: %w", err)
	}
	c.priv = dir
	return dir, nil
}

// PrivateDir is the directory of verified copies, "" before the first.
func (c *Catalog) PrivateDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.priv
}

// Close removes the private directory; the processes running copies from
// it keep running.
func (c *Catalog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.priv == "" {
		return nil
	}
	err := os.RemoveAll(c.priv)
	c.priv = ""
	return err
}

// Lock statuses of a file, as LockStatus reports them.
const (
	LockOK       = "ok"       // its bytes are those of its entry
	LockMismatch = "mismatch" // its entry names other bytes
	LockUnlocked = "unlocked" // no entry covers it
	LockNone     = "none"     // no lock in force
)

// LockStatus tells how the file of b (from Discover) stands against the
// lock, without executing it, and returns the entry it was compared with.
// A NAME@VERSION file is compared with the entry NAME VERSION. A plain
// NAME file is ok when its hash is that of an entry of NAME, a mismatch
// when an entry of NAME has no NAME@VERSION file (so the plain file is what
// would run for it), and unlocked otherwise.
func (c *Catalog) LockStatus(b Binary) (string, LockEntry) {
	if c.lock == nil {
		return LockNone, LockEntry{}
	}
	sum := b.SHA256
	if sum == "" {
		var err error
		if sum, err = hashFile(b.Path); err != nil {
			return LockUnlocked, LockEntry{}
		}
	}
	if b.Version != "" {
		e, ok := c.lock.Lookup(b.Name, b.Version)
		switch {
		case !ok:
			return LockUnlocked, LockEntry{}
		case e.SHA256 == sum:
			return LockOK, e
		default:
			return LockMismatch, e
		}
	}
	entries := c.lock.Versions(b.Name)
	for _, e := range entries {
		if e.SHA256 == sum {
			return LockOK, e
		}
	}
	files, _ := candidates(c.dir, b.Name)
	for _, e := range entries {
		if f, ok := backing(files, e.Version); ok && f.Version == "" {
			return LockMismatch, e
		}
	}
	return LockUnlocked, LockEntry{}
}
