package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lsie-mlf/lsie/host/semver"
)

// LockFileName is the lock file a plugins directory may hold.
const LockFileName = "plugins.lock"

// A lock file pins, per plugin, the versions a host may run and the
// sha256 of each one's binary. One entry per line:
//
//	# comment (also after an entry)
//	NAME VERSION SHA256
//	visual 1.3.0 9f2c…(64 lowercase hex digits)
//
// NAME is the plugin's name (1..64 of A-Z a-z 0-9 _ -), VERSION a full
// semantic version (1.2.3, 1.3.0-rc.1), SHA256 the binary's. Fields are
// separated by spaces or tabs; blank lines are ignored; each NAME VERSION
// appears once. `lsie-host plugins lock` writes one.

// LockEntry is one line of a lock file.
type LockEntry struct {
	Name, Version, SHA256 string
	// Line is the entry's line in its file, from 1 (0 when built in code).
	Line int
}

// Lock is a parsed lock file.
type Lock struct {
	// File is where it was read from, for messages.
	File    string
	Entries []LockEntry
}

// ParseLock parses a lock file's contents; file names it in errors, which
// are "FILE:LINE: message", one per bad line, joined.
func ParseLock(file string, data []byte) (*Lock, error) {
	l := &Lock{File: file}
	var errs []error
	first := map[[2]string]int{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...)))
		}
		text := string(line)
		if c := strings.IndexByte(text, '#'); c >= 0 {
			text = text[:c]
		}
		fields := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' })
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			bad("want NAME VERSION SHA256, got %d fields", len(fields))
			continue
		}
		e := LockEntry{Name: fields[0], Version: fields[1], SHA256: fields[2], Line: n}
		switch {
		case !validName(e.Name):
			bad("plugin name %q must be 1..64 characters of A-Z a-z 0-9 _ -", e.Name)
		case semver.Check(e.Version) != nil:
			bad("%v", semver.Check(e.Version))
		case !validSHA256(e.SHA256):
			bad("sha256 %q must be 64 lowercase hex digits", e.SHA256)
		default:
			key := [2]string{e.Name, e.Version}
			if at, dup := first[key]; dup {
				bad("duplicate entry for %s %s (first at line %d)", e.Name, e.Version, at)
				continue
			}
			first[key] = n
			l.Entries = append(l.Entries, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ReadLock reads and parses the lock file at path.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugins lock: %w", err)
	}
	return ParseLock(path, data)
}

// OpenLock returns the lock in force for plugins directory dir: the file
// path if given (it must exist), else dir/plugins.lock if there is one;
// nil and no error when there is none.
func OpenLock(dir, path string) (*Lock, error) {
	if path == "" {
		path = filepath.Join(dir, LockFileName)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	return ReadLock(path)
}

// Versions returns the entries of plugin name.
func (l *Lock) Versions(name string) []LockEntry {
	var out []LockEntry
	for _, e := range l.Entries {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Lookup returns the entry of name at version.
func (l *Lock) Lookup(name, version string) (LockEntry, bool) {
	for _, e := range l.Entries {
		if e.Name == name && e.Version == version {
			return e, true
		}
	}
	return LockEntry{}, false
}

// FormatLock renders entries as a lock file, sorted by name and then
// newest version first, after a header that explains the format.
func FormatLock(entries []LockEntry) []byte {
	entries = append([]LockEntry(nil), entries...)
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].Name != entries[j].Name {
			return entries[i].Name < entries[j].Name
		}
		return semver.Compare(entries[i].Version, entries[j].Version) > 0
	})
	var b bytes.Buffer
	b.WriteString("# plugins.lock: the plugin binaries this host may run; written by `lsie-host plugins lock`.\n")
	b.WriteString("# NAME VERSION SHA256 — a binary whose bytes differ is refused.\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s %s\n", e.Name, e.Version, e.SHA256)
	}
	return b.Bytes()
}

// NotLockedError is a plugin the host would start that has no entry in
// the lock in force.
type NotLockedError struct {
	Name  string
	File  string   // the lock file
	Files []string // the plugin's files in the plugins directory
}

func (e *NotLockedError) Error() string {
	return fmt.Sprintf("plugin %q has no entry in %s (files: %s); with a lock file every plugin the host starts needs one: run lsie-host plugins lock",
		e.Name, e.File, orNone(e.Files))
}

// LockMismatchError is a binary whose bytes are not those its lock entry
// names.
type LockMismatchError struct {
	Name, Version string
	Path          string // the file in the plugins directory
	Expected      string // sha256 in the lock
	Actual        string // sha256 of the file's bytes
	Lock          string // FILE:LINE of the entry
}

func (e *LockMismatchError) Error() string {
	return fmt.Sprintf("plugin %q %s (%s): sha256 %s does not match %s, which expects %s; refusing to run it",
		e.Name, e.Version, e.Path, e.Actual, e.Lock, e.Expected)
}
