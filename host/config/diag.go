package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a configuration file; Line and Column start at 1.
type Pos struct {
	File         string
	Line, Column int
}

// String renders the position as FILE:LINE:COL, or FILE alone when the
// position names the file as a whole.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	// Pos is where the problem is.
	Pos Pos
	// Field is the path of the offending field as a user reads it, e.g.
	// `stream "cam1": video.fps`; empty for problems outside any field
	// (syntax errors, unknown top-level blocks).
	Field string
	// Message says what is wrong, e.g. "must be 1..60, got 0".
	Message string

	// err is the error the problem came from, if any (source.ErrNotAllowed
	// for a source the policy refuses), for errors.Is through Unwrap.
	err error
}

// Unwrap returns the error the problem came from, or nil.
func (d Diagnostic) Unwrap() error { return d.err }

// String renders the diagnostic as "FILE:LINE:COL: FIELD: MESSAGE", leaving
// out the parts that are empty.
func (d Diagnostic) String() string {
	var b strings.Builder
	if p := d.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics is every problem found in a configuration; as an error it
// renders one diagnostic per line.
type Diagnostics []Diagnostic

// Error renders one line per diagnostic.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors the problems came from, so that
// errors.Is(err, source.ErrNotAllowed) tells a refused source from a bad
// request.
func (ds Diagnostics) Unwrap() []error {
	var errs []error
	for _, d := range ds {
		if d.err != nil {
			errs = append(errs, d.err)
		}
	}
	return errs
}

// sortByPos orders diagnostics by file position, keeping the order of
// diagnostics at the same position.
func (ds Diagnostics) sortByPos() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// err returns ds as an error, or nil when there are none.
func (ds Diagnostics) err() error {
	if len(ds) == 0 {
		return nil
	}
	return ds
}
