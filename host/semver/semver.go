// Package semver parses and compares plugin versions and version
// constraints. Config validation and plugin resolution share it; it is a
// leaf, so host/config need not import the plugin process launcher.
package semver

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lsie-mlf/lsie/sdk/validate"
	modsemver "golang.org/x/mod/semver"
)

// Plugin versions are semantic versions without a leading "v":
// MAJOR.MINOR.PATCH, optionally with a pre-release (-rc.1) and build
// metadata (+linux). Ordering is semver's (golang.org/x/mod/semver):
// 1.2.0-rc.1 < 1.2.0 < 1.10.0; build metadata is ignored.

// Check reports whether v is a full semantic version, as a plugin's
// file name (visual@1.3.0), its manifest and plugins.lock must give it.
// The rule is the SDK's (validate.Version), which plugins and
// sdk/plugintest apply too.
func Check(v string) error { return validate.Version(v) }

// Compare orders two versions as semver does: -1, 0 or +1. A
// string that is not a version sorts before every version.
func Compare(a, b string) int {
	return modsemver.Compare("v"+a, "v"+b)
}

// Constraint selects plugin versions, with Terraform's syntax: terms
// separated by commas, all of which must hold.
//
//	1.2.3, = 1.2.3   exactly 1.2.3
//	!= 1.2.3         anything but 1.2.3
//	> >= < <=        comparisons (1.2 means 1.2.0)
//	~> 1.2           >= 1.2.0, < 2.0.0: only the right-most number given may grow
//	~> 1.2.3         >= 1.2.3, < 1.3.0
//	~> 1             >= 1.0.0 (any later major too; write ~> 1.0 for 1.x)
//
// A pre-release version (1.3.0-rc.1) is selected only by a constraint
// with a term that names a pre-release of the same MAJOR.MINOR.PATCH
// (">= 1.3.0-rc.1", "= 1.3.0-rc.1"). The empty constraint selects every
// version, pre-releases included.
type Constraint struct {
	terms []term
}

type term struct {
	op string // "=", "!=", ">", ">=", "<", "<=", "~>"; "" is "=" written bare
	v  version
}

// version is a parsed version; one in a constraint may give fewer than
// three numbers.
type version struct {
	nums  [3]uint64
	n     int // numbers given, 1..3
	pre   string
	build string
	len   int // bytes of the input it took
}

// semver renders v for x/mod/semver, missing numbers as 0.
func (v version) semver() string {
	s := fmt.Sprintf("v%d.%d.%d", v.nums[0], v.nums[1], v.nums[2])
	if v.pre != "" {
		s += "-" + v.pre
	}
	return s
}

func (v version) String() string {
	var b strings.Builder
	for i := 0; i < v.n; i++ {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(v.nums[i], 10))
	}
	if v.pre != "" {
		b.WriteString("-" + v.pre)
	}
	if v.build != "" {
		b.WriteString("+" + v.build)
	}
	return b.String()
}

// ConstraintError is a constraint that does not parse: Column (from 1,
// in bytes) is where the problem is.
type ConstraintError struct {
	Input  string
	Column int
	Msg    string
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("version constraint %q: column %d: %s", e.Input, e.Column, e.Msg)
}

// ParseConstraint parses a version constraint; "" (or only spaces) is the
// empty constraint, which allows every version.
func ParseConstraint(s string) (Constraint, error) {
	var c Constraint
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	p := &cparser{s: s}
	for {
		p.space()
		t, err := p.term()
		if err != nil {
			return Constraint{}, err
		}
		c.terms = append(c.terms, t)
		p.space()
		if p.i == len(s) {
			return c, nil
		}
		if s[p.i] != ',' {
			return Constraint{}, p.errf(`want "," between terms, got %s`, p.token())
		}
		p.i++
	}
}

type cparser struct {
	s string
	i int
}

func (p *cparser) errf(format string, args ...any) error {
	return &ConstraintError{Input: p.s, Column: p.i + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *cparser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// token quotes what starts at the current position, up to a separator.
func (p *cparser) token() string {
	if p.i >= len(p.s) {
		return "the end"
	}
	j := p.i + 1
	for j < len(p.s) && !strings.ContainsRune(" \t,", rune(p.s[j])) && j-p.i < 20 {
		j++
	}
	return strconv.Quote(p.s[p.i:j])
}

var ops = []string{">=", "<=", "!=", "~>", "=", ">", "<"}

func (p *cparser) term() (term, error) {
	var t term
	for _, op := range ops {
		if strings.HasPrefix(p.s[p.i:], op) {
			t.op = op
			p.i += len(op)
			break
		}
	}
	p.space()
	if p.i == len(p.s) || p.s[p.i] == ',' {
		if t.op != "" {
			return t, p.errf("want a version after %q", t.op)
		}
		return t, p.errf("want a version or an operator (=, !=, >, >=, <, <=, ~>), got %s", p.token())
	}
	v, err := parseVersion(p.s[p.i:], p.i)
	if err != nil {
		err.(*ConstraintError).Input = p.s
		return t, err
	}
	p.i += v.len
	if p.i < len(p.s) && !strings.ContainsRune(" \t,", rune(p.s[p.i])) {
		return t, p.errf("unexpected %s after the version", p.token())
	}
	t.v = v
	return t, nil
}

// parseVersion parses the version at the start of s, which is at offset
// off of the whole input (for error columns); it stops at the first byte
// that cannot continue it.
func parseVersion(s string, off int) (version, error) {
	var v version
	i := 0
	fail := func(format string, args ...any) (version, error) {
		return version{}, &ConstraintError{Input: s, Column: off + i + 1, Msg: fmt.Sprintf(format, args...)}
	}
	got := func() string {
		if i >= len(s) {
			return "the end"
		}
		return strconv.Quote(s[i : i+1])
	}
	for {
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			if i < len(s) && (s[i] == 'x' || s[i] == 'X' || s[i] == '*') {
				return fail("wildcards are not supported; use ~> (~> 1.2 allows 1.2.0 up to 2.0.0)")
			}
			if i < len(s) && s[i] == 'v' && v.n == 0 {
				return fail(`want a number, got "v" (write 1.2.3, not v1.2.3)`)
			}
			return fail("want a number, got %s", got())
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if s[i] == '0' && j-i > 1 {
			return fail("number %s has a leading zero", s[i:j])
		}
		n, err := strconv.ParseUint(s[i:j], 10, 63)
		if err != nil {
			return fail("number %s is too large", s[i:j])
		}
		v.nums[v.n] = n
		v.n++
		i = j
		if i >= len(s) || s[i] != '.' {
			break
		}
		if v.n == 3 {
			return fail("a version has at most three numbers")
		}
		i++
	}
	if i < len(s) && s[i] == '-' {
		if v.n != 3 {
			return fail("a pre-release needs all three numbers (1.2.3-rc.1)")
		}
		i++
		start := i
		if err := idents(s, &i, true); err != "" {
			return fail("%s", err)
		}
		v.pre = s[start:i]
	}
	if i < len(s) && s[i] == '+' {
		if v.n != 3 {
			return fail("build metadata needs all three numbers (1.2.3+build)")
		}
		i++
		start := i
		if err := idents(s, &i, false); err != "" {
			return fail("%s", err)
		}
		v.build = s[start:i]
	}
	v.len = i
	return v, nil
}

// idents reads dot-separated identifiers of [0-9A-Za-z-] at *i;
// numeric ones of a pre-release have no leading zeros.
func idents(s string, i *int, pre bool) string {
	for {
		j := *i
		for j < len(s) && (s[j] == '-' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		if j == *i {
			return "want an identifier of 0-9 A-Z a-z -"
		}
		id := s[*i:j]
		if pre && len(id) > 1 && id[0] == '0' && strings.Trim(id, "0123456789") == "" {
			return fmt.Sprintf("numeric identifier %s has a leading zero", id)
		}
		*i = j
		if *i >= len(s) || s[*i] != '.' {
			return ""
		}
		*i++
	}
}

// IsEmpty reports whether c allows every version.
func (c Constraint) IsEmpty() bool { return len(c.terms) == 0 }

// String renders c canonically: "~> 1.2, != 1.2.5".
func (c Constraint) String() string {
	parts := make([]string, len(c.terms))
	for i, t := range c.terms {
		if t.op == "" {
			parts[i] = t.v.String()
		} else {
			parts[i] = t.op + " " + t.v.String()
		}
	}
	return strings.Join(parts, ", ")
}

// Allows reports whether version v (a full semantic version) satisfies
// c. Only the empty constraint allows a string that is not a version.
func (c Constraint) Allows(v string) bool {
	if len(c.terms) == 0 {
		return true
	}
	if Check(v) != nil {
		return false
	}
	sv := "v" + v
	if pre := modsemver.Prerelease(sv); pre != "" {
		core := strings.TrimSuffix(modsemver.Canonical(sv), pre)
		named := false
		for _, t := range c.terms {
			if t.op != "!=" && t.v.pre != "" && strings.TrimSuffix(t.v.semver(), "-"+t.v.pre) == core {
				named = true
			}
		}
		if !named {
			return false
		}
	}
	for _, t := range c.terms {
		if !t.allows(sv) {
			return false
		}
	}
	return true
}

func (t term) allows(sv string) bool {
	cmp := modsemver.Compare(sv, t.v.semver())
	switch t.op {
	case "", "=":
		return cmp == 0
	case "!=":
		return cmp != 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case "~>":
		if cmp < 0 {
			return false
		}
		var upper version
		switch t.v.n {
		case 1:
			return true
		case 2:
			upper = version{nums: [3]uint64{t.v.nums[0] + 1}, n: 3}
		default:
			upper = version{nums: [3]uint64{t.v.nums[0], t.v.nums[1] + 1}, n: 3}
		}
		return modsemver.Compare(sv, upper.semver()) < 0
	}
	return false
}
