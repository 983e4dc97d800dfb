// Package plugin finds plugin binaries, starts them over go-plugin with the
// data-plane socket at fd 3, and moves frames and results between the host
// and each plugin process.
package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotFound is returned when a configured plugin has no binary.
var ErrNotFound = errors.New("plugin not found")

// Binary is a candidate plugin executable.
type Binary struct {
	// Name is the file name; a stream's plugin "visual" runs DIR/visual.
	Name   string
	Path   string
	SHA256 string
}

// Discover lists the executable regular files in dir, sorted by name, with
// their sha256 (stored with every run, so results trace to exact bytes).
func Discover(dir string) ([]Binary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	var out []Binary
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		b, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Find returns the binary for plugin name in dir.
func Find(dir, name string) (Binary, error) {
	p := filepath.Join(dir, name)
	info, err := os.Stat(p)
	if err != nil || !info.Mode().IsRegular() {
		return Binary{}, fmt.Errorf("%w: %q (no file %s)", ErrNotFound, name, p)
	}
	if info.Mode().Perm()&0o111 == 0 {
		return Binary{}, fmt.Errorf("%w: %q (%s is not executable)", ErrNotFound, name, p)
	}
	return Load(p)
}

// Load hashes the binary at path.
func Load(path string) (Binary, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Binary{}, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return Binary{}, fmt.Errorf("open plugin: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Binary{}, fmt.Errorf("hash plugin %s: %w", abs, err)
	}
	return Binary{Name: filepath.Base(abs), Path: abs, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
