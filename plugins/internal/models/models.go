// Package models finds the model plugins' model files: one folder, filled by
// scripts/fetch-models.sh, that a plugin attribute or the environment can
// move, and a missing file reported by name with the command that fetches it.
package models

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lsie-mlf/lsie/sdk"
)

// EnvDir names the environment variable that points plugins at the model
// folder. Plugins run from private copies of their binaries, so the folder
// cannot be found next to the executable. The LSIE_PLUGIN_ prefix is what
// the host passes on to plugins (pluginv1.EnvAllowlist).
const EnvDir = "LSIE_PLUGIN_MODEL_DIR"

// DefaultDir is used when neither the attribute nor EnvDir is set: the
// repository's cache, as `make demo` runs from the repository root.
const DefaultDir = "var/models"

// Attributes declares what this package reads: model_dir. Every plugin
// that finds files through it puts this in its manifest's schema.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{{Name: "model_dir", Type: sdk.AttrString,
		Description: "folder holding the model files (scripts/fetch-models.sh fills var/models); default $" + EnvDir + ", else " + DefaultDir}}
}

// Dir resolves the model folder: the plugin block's model_dir attribute,
// else $LSIE_MODEL_DIR, else DefaultDir; made absolute.
func Dir(attrs map[string]string) string {
	d := attrs["model_dir"]
	if d == "" {
		d = os.Getenv(EnvDir)
	}
	if d == "" {
		d = DefaultDir
	}
	if abs, err := filepath.Abs(d); err == nil {
		d = abs
	}
	return d
}

// MissingError says which file a model needs and where it was looked for.
type MissingError struct {
	What string // e.g. "Silero VAD model"
	Path string
	Hint string // how to get it
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found: %s (%s)", e.What, e.Path, e.Hint)
}

// FetchHint is the hint for files that scripts/fetch-models.sh provides.
const FetchHint = "run scripts/fetch-models.sh, or set model_dir / " + EnvDir + " to the folder holding it"

// Require returns path when it names a readable regular file, else a
// *MissingError naming what and path.
func Require(what, path, hint string) (string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return "", &MissingError{What: what, Path: path, Hint: hint}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &MissingError{What: what, Path: path, Hint: hint + "; " + err.Error()}
	}
	f.Close()
	return path, nil
}

// File resolves name inside the model folder and requires it.
func File(attrs map[string]string, what, name string) (string, error) {
	return Require(what, filepath.Join(Dir(attrs), name), FetchHint)
}

// Resolve finds a model file that attribute attr may name explicitly
// (relative to the working directory), else name inside the model folder;
// either way a missing file is a *MissingError naming it.
func Resolve(attrs map[string]string, attr, what, name string) (string, error) {
	if p := attrs[attr]; p != "" {
		return Require(what, p, "set "+attr+" to "+filepath.Base(name))
	}
	return File(attrs, what, name)
}
