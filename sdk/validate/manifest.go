package validate

import (
	"fmt"
	"strings"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
)

// Limits on names.
const (
	MaxPluginName = 64  // bytes of a plugin name
	MaxFieldName  = 128 // bytes of a field, label or object attribute name
	MaxFields     = 1024
)

// File is what the host knows of a plugin's file before it starts it.
type File struct {
	// Name is the plugin name the file gives: NAME of a file NAME or
	// NAME@VERSION. "" skips the name rule (sdk/plugintest runs binaries
	// under whatever name go build gave them).
	Name string
	// Version is the version the file was resolved as, "" if none.
	Version string
	// VersionFrom says where Version came from, for messages: "its file
	// name", "plugins.lock".
	VersionFrom string
}

// ProtocolError is a plugin that speaks another plugin protocol version
// than this host (or harness).
type ProtocolError struct {
	Plugin int // the plugin's version
	Host   int // this host's
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("speaks protocol %d; this host speaks protocol %d", e.Plugin, e.Host)
}

// VersionMismatchError is a plugin whose manifest reports another version
// than its file name (or plugins.lock) says.
type VersionMismatchError struct {
	Expected string // what the host resolved the binary as
	From     string // where Expected came from: File.VersionFrom
	Manifest string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("its manifest says version %q but %s says %q", e.Manifest, e.From, e.Expected)
}

// NameMismatchError is a plugin whose manifest names another plugin than
// its file name: the host names a plugin by its file, so results would be
// stored under a name the plugin does not know it has.
type NameMismatchError struct {
	File     string
	Manifest string
}

func (e *NameMismatchError) Error() string {
	return fmt.Sprintf("its manifest names plugin %q but its file name says %q", e.Manifest, e.File)
}

// ManifestError is every rule a manifest breaks, one or more; errors.As
// finds each (a *VersionMismatchError among them).
type ManifestError struct {
	// Manifest is what the plugin described, for tools that show it
	// beside the refusal (plugins ls).
	Manifest *pluginv1.Manifest
	Errs     []error
}

func (e *ManifestError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns each problem.
func (e *ManifestError) Unwrap() []error { return e.Errs }

// Name reports whether name is a plugin name: 1..64 characters of
// [A-Za-z0-9_-], as a stream's plugin block names it.
func Name(name string) error {
	if name == "" || len(name) > MaxPluginName {
		return fmt.Errorf("name %q: want 1..%d characters of [A-Za-z0-9_-]", name, MaxPluginName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && c != '-' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return fmt.Errorf("name %q: character %q at %d: want 1..%d characters of [A-Za-z0-9_-]", name, c, i+1, MaxPluginName)
		}
	}
	return nil
}

// Manifest checks what a plugin described against the rules and against
// what the host knows of its file. It returns nil, a *ProtocolError, or a
// *ManifestError with each problem: a *NameMismatchError, a
// *VersionMismatchError or an error naming the manifest field.
func Manifest(m *pluginv1.Manifest, f File) error {
	if m.GetProtocolVersion() != pluginv1.ProtocolVersion {
		// Nothing else means the same in another protocol.
		return &ProtocolError{Plugin: int(m.GetProtocolVersion()), Host: pluginv1.ProtocolVersion}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := Name(m.GetName()); err != nil {
		bad("manifest %w", err)
	} else if f.Name != "" && m.GetName() != f.Name {
		errs = append(errs, &NameMismatchError{File: f.Name, Manifest: m.GetName()})
	}
	if err := Version(m.GetVersion()); err != nil {
		bad("manifest %w", err)
	}
	if f.Version != "" && m.GetVersion() != f.Version {
		from := f.VersionFrom
		if from == "" {
			from = "the host"
		}
		errs = append(errs, &VersionMismatchError{Expected: f.Version, From: from, Manifest: m.GetVersion()})
	}
	for _, in := range m.GetInputs() {
		if _, err := topic.Parse(in); err != nil {
			bad("manifest input: %w", err)
		}
	}
	for _, out := range m.GetOutputs() {
		t, err := topic.Parse(out)
		switch {
		case err != nil:
			bad("manifest output: %w", err)
		case t.Host():
			bad("manifest output %q is a host topic; plugins publish versioned topics such as %q", out, t.Name+".result@1")
		}
	}
	seen := map[string]bool{}
	for _, fs := range m.GetFields() {
		n := fs.GetName()
		switch {
		case n == "" || len(n) > MaxFieldName:
			bad("manifest field %q: want a name of 1..%d bytes", n, MaxFieldName)
		case seen[n]:
			bad("manifest field %q is declared twice", n)
		case fs.GetType() != "" && fs.GetType() != "float64":
			bad("manifest field %q: type %q; fields are float64", n, fs.GetType())
		}
		seen[n] = true
	}
	errs = append(errs, labelProblems(m.GetLabels())...)
	errs = append(errs, schemaProblems(m)...)
	if len(errs) == 0 {
		return nil
	}
	return &ManifestError{Manifest: m, Errs: errs}
}

// labelProblems checks the object labels a manifest declares.
func labelProblems(labels []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, l := range labels {
		switch {
		case l == "" || len(l) > MaxFieldName:
			errs = append(errs, fmt.Errorf("manifest label %q: want 1..%d bytes", l, MaxFieldName))
		case seen[l]:
			errs = append(errs, fmt.Errorf("manifest label %q is declared twice", l))
		}
		seen[l] = true
	}
	return errs
}
