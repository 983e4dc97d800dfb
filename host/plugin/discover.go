// Package plugin finds plugin binaries, starts them over go-plugin with the
// data-plane socket at fd 3, and moves frames and results between the host
// and each plugin process.
//
// A plugins directory holds, for a plugin named NAME, files named NAME (its
// version is what its manifest says) and NAME@VERSION (visual@1.3.0: the
// version is in the name, and the manifest must agree). Resolve picks the
// newest that a version constraint (semver.Constraint) allows; a Catalog
// does the same for a host, against an optional plugins.lock (lock.go),
// running verified private copies.
package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/lsie-mlf/lsie/host/semver"
)

// ErrNotFound is returned when a configured plugin has no binary.
var ErrNotFound = errors.New("plugin not found")

// ErrNoVersion is returned when a plugin has binaries but none of a
// version every constraint on it allows.
var ErrNoVersion = errors.New("no plugin version matches")

// Binary is a candidate plugin executable.
type Binary struct {
	// Name is the plugin's name: the file name up to an "@"; a stream's
	// plugin "visual" runs DIR/visual or DIR/visual@VERSION.
	Name string
	// Version is the version the binary was resolved as: from its file
	// name (visual@1.3.0), from plugins.lock, or from its manifest when
	// resolution started it to learn it; "" when nothing needed it. When
	// set, Start refuses a plugin whose manifest says another version.
	Version string
	// VersionFrom says where Version came from, for messages: "its file
	// name", "plugins.lock" or "its manifest".
	VersionFrom string
	// Path is the file in the plugins directory, as stored with every run.
	Path string
	// ExecPath, when set, is what is executed instead of Path: a private
	// copy whose bytes were hashed as they were copied and checked against
	// plugins.lock (see Catalog).
	ExecPath string
	// SHA256 is the hash of the bytes that run.
	SHA256 string
	// Locked is set when SHA256 was checked against a plugins.lock entry.
	Locked bool
}

// File is the binary's file name in the plugins directory.
func (b Binary) File() string { return filepath.Base(b.Path) }

// execPath is the file to execute.
func (b Binary) execPath() string {
	if b.ExecPath != "" {
		return b.ExecPath
	}
	return b.Path
}

// SplitFileName splits a plugin file name into the plugin's name and the
// version it gives ("" for a plain NAME).
func SplitFileName(file string) (name, version string) {
	name, version, _ = strings.Cut(file, "@")
	return name, version
}

// Discover lists the executable regular files in dir, sorted by name and
// then by version, newest first, with their sha256 (stored with every run,
// so results trace to exact bytes). A NAME@VERSION file whose VERSION is
// not a version is listed; Resolve skips it.
func Discover(dir string) ([]Binary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	var out []Binary
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !executable(filepath.Join(dir, e.Name())) {
			continue
		}
		b, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sortBinaries(out)
	return out, nil
}

// sortBinaries orders by name, then newest version first (a plain NAME,
// whose version is unknown here, last).
func sortBinaries(bins []Binary) {
	sort.SliceStable(bins, func(i, j int) bool {
		if bins[i].Name != bins[j].Name {
			return bins[i].Name < bins[j].Name
		}
		if c := semver.Compare(bins[i].Version, bins[j].Version); c != 0 {
			return c > 0
		}
		return bins[i].File() < bins[j].File()
	})
}

// executable reports whether path is (or links to) an executable regular
// file.
func executable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// Find returns the binary in the file dir/file (NAME or NAME@VERSION),
// without choosing among versions: see Resolve.
func Find(dir, file string) (Binary, error) {
	p := filepath.Join(dir, file)
	info, err := os.Stat(p)
	if err != nil || !info.Mode().IsRegular() {
		return Binary{}, fmt.Errorf("%w: %q (no file %s)", ErrNotFound, file, p)
	}
	if info.Mode().Perm()&0o111 == 0 {
		return Binary{}, fmt.Errorf("%w: %q (%s is not executable)", ErrNotFound, file, p)
	}
	return Load(p)
}

// Load hashes the binary at path; its Name and Version come from its file
// name.
func Load(path string) (Binary, error) {
	b, err := fileBinary(path)
	if err != nil {
		return Binary{}, err
	}
	if b.SHA256, err = hashFile(b.Path); err != nil {
		return Binary{}, err
	}
	return b, nil
}

// fileBinary describes the file at path without reading it.
func fileBinary(path string) (Binary, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Binary{}, err
	}
	b := Binary{Path: abs}
	b.Name, b.Version = SplitFileName(filepath.Base(abs))
	if b.Version != "" {
		b.VersionFrom = "its file name"
	}
	return b, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open plugin: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash plugin %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// candidates lists the files of plugin name in dir: NAME and every
// NAME@VERSION, unread.
func candidates(dir, name string) ([]Binary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	var out []Binary
	for _, e := range entries {
		n, _ := SplitFileName(e.Name())
		if n != name || !executable(filepath.Join(dir, e.Name())) {
			continue
		}
		b, err := fileBinary(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sortBinaries(out)
	return out, nil
}

// Want is one constraint on a plugin's version and who set it.
type Want struct {
	Constraint semver.Constraint
	// By names who wants it in messages, such as `stream "cam1"
	// (lsie.hcl:7:3)`; may be empty.
	By string
}

func (w Want) String() string {
	c := "any version"
	if !w.Constraint.IsEmpty() {
		c = fmt.Sprintf("%q", w.Constraint.String())
	}
	if w.By == "" {
		return c
	}
	return c + " for " + w.By
}

// Resolve returns the binary of plugin name in dir that the constraint
// picks (the newest version it allows; "" allows every version), hashed.
// It does not consult plugins.lock: see Catalog.
func Resolve(dir, name, constraint string, opts Options) (Binary, error) {
	c, err := semver.ParseConstraint(constraint)
	if err != nil {
		return Binary{}, fmt.Errorf("plugin %q: %w", name, err)
	}
	b, err := pick(dir, name, nil, opts, Want{Constraint: c})
	if err != nil {
		return Binary{}, err
	}
	if b.SHA256, err = hashFile(b.Path); err != nil {
		return Binary{}, err
	}
	return b, nil
}

// pick chooses among the files of plugin name the newest version that
// every want allows. With a lock, only locked versions are candidates (the
// lock pins what runs, as Terraform's does): a lock entry NAME VERSION is
// backed by the file NAME@VERSION, else by a plain NAME. Without one, a
// plain NAME's version is read from its manifest (by starting it) when
// there is something to compare it with. The result is not hashed.
func pick(dir, name string, lock *Lock, opts Options, wants ...Want) (Binary, error) {
	files, err := candidates(dir, name)
	if err != nil {
		return Binary{}, err
	}
	if len(files) == 0 {
		return Binary{}, fmt.Errorf("%w: %q (no file %s or %s@VERSION in %s)", ErrNotFound, name, name, name, dir)
	}
	var cands []Binary
	var notes []string
	if lock != nil {
		entries := lock.Versions(name)
		if len(entries) == 0 {
			return Binary{}, &NotLockedError{Name: name, File: lock.File, Files: fileNames(files)}
		}
		entries = plainMatches(files, entries)
		for _, e := range entries {
			b, ok := backing(files, e.Version)
			if !ok {
				notes = append(notes, fmt.Sprintf("%s %s is locked but neither %s@%s nor %s is in %s", name, e.Version, name, e.Version, name, dir))
				continue
			}
			if b.Version == "" {
				b.Version, b.VersionFrom = e.Version, "plugins.lock"
			}
			cands = append(cands, b)
		}
	} else {
		var plain *Binary
		for i, b := range files {
			switch {
			case b.Version == "":
				plain = &files[i]
			case semver.Check(b.Version) != nil:
				notes = append(notes, fmt.Sprintf("%s skipped: %v", b.File(), semver.Check(b.Version)))
			default:
				cands = append(cands, b)
			}
		}
		needVersion := len(cands) > 0
		for _, w := range wants {
			needVersion = needVersion || !w.Constraint.IsEmpty()
		}
		if plain != nil {
			b := *plain
			if needVersion {
				m, err := Inspect(b, opts)
				if err != nil {
					return Binary{}, fmt.Errorf("plugin %q: reading the version of %s: %w", name, b.Path, err)
				}
				b.Version, b.VersionFrom = m.GetVersion(), "its manifest"
			}
			if _, dup := backing(cands, b.Version); !dup || b.Version == "" {
				cands = append(cands, b)
			} else {
				notes = append(notes, fmt.Sprintf("%s (version %s) skipped: %s@%s is preferred", b.File(), b.Version, name, b.Version))
			}
		}
	}
	sortBinaries(cands)
	for _, b := range cands {
		ok := true
		for _, w := range wants {
			ok = ok && w.Constraint.Allows(b.Version)
		}
		if ok {
			return b, nil
		}
	}
	ws := make([]string, len(wants))
	for i, w := range wants {
		ws[i] = w.String()
	}
	avail := make([]string, len(cands))
	for i, b := range cands {
		avail[i] = fmt.Sprintf("%s (%s)", b.Version, b.File())
	}
	where := "in " + dir
	if lock != nil {
		where = "locked in " + lock.File
	}
	more := ""
	if len(notes) > 0 {
		more = " (" + strings.Join(notes, "; ") + ")"
	}
	return Binary{}, fmt.Errorf("%w: plugin %q wants %s; available %s: %s%s", ErrNoVersion, name, strings.Join(ws, " and "), where, orNone(avail), more)
}

// backing returns the binary that provides version v: NAME@v, else a plain
// NAME.
func backing(files []Binary, v string) (Binary, bool) {
	var plain *Binary
	for i, b := range files {
		if b.Version == v && v != "" {
			return b, true
		}
		if b.Version == "" {
			plain = &files[i]
		}
	}
	if plain != nil {
		return *plain, true
	}
	return Binary{}, false
}

// plainMatches drops, of the lock entries a plain NAME file would back
// (no NAME@VERSION file for them), those its bytes do not match, when one
// does: a plain file can be only one version. If none matches, all stay,
// and the newest is refused as a mismatch.
func plainMatches(files []Binary, entries []LockEntry) []LockEntry {
	var plain string
	var fallback []int
	for _, b := range files {
		if b.Version == "" {
			plain = b.Path
		}
	}
	if plain == "" {
		return entries
	}
	for i, e := range entries {
		if b, _ := backing(files, e.Version); b.Version == "" {
			fallback = append(fallback, i)
		}
	}
	if len(fallback) < 2 {
		return entries
	}
	sum, err := hashFile(plain)
	if err != nil {
		return entries
	}
	keep := -1
	for _, i := range fallback {
		if entries[i].SHA256 == sum {
			keep = i
		}
	}
	if keep < 0 {
		return entries
	}
	var out []LockEntry
	for i, e := range entries {
		if i == keep || !slices.Contains(fallback, i) {
			out = append(out, e)
		}
	}
	return out
}

func fileNames(bins []Binary) []string {
	out := make([]string, len(bins))
	for i, b := range bins {
		out[i] = b.File()
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
