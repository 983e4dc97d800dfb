package semver

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConstraint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"1.2.3", "1.2.3"},
		{"=1.2.3", "= 1.2.3"},
		{"= 1.2.3", "= 1.2.3"},
		{"~> 1.2", "~> 1.2"},
		{"~>1.2.3", "~> 1.2.3"},
		{">= 1.0, < 2.0", ">= 1.0, < 2.0"},
		{" >=1.0 ,<2.0 ", ">= 1.0, < 2.0"},
		{"!= 1.2.5", "!= 1.2.5"},
		{"> 0, <= 3", "> 0, <= 3"},
		{"= 1.3.0-rc.1+build.5", "= 1.3.0-rc.1+build.5"},
		{"~> 0.1.0-alpha-2.x", "~> 0.1.0-alpha-2.x"},
		{"\t~> 1.2\t", "~> 1.2"},
	} {
		c, err := ParseConstraint(tc.in)
		if err != nil {
			t.Errorf("ParseConstraint(%q): %v", tc.in, err)
			continue
		}
		if got := c.String(); got != tc.want {
			t.Errorf("ParseConstraint(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseConstraintErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		col  int
		want string
	}{
		{"~>", 3, `want a version after "~>"`},
		{"~> 1.2,", 8, "want a version or an operator"},
		{",", 1, "want a version or an operator"},
		{"~> 1.x", 6, "wildcards are not supported"},
		{"1.*", 3, "wildcards are not supported"},
		{"v1.2.3", 1, `got "v" (write 1.2.3, not v1.2.3)`},
		{"1.2.3.4", 6, "at most three numbers"},
		{"01.2", 1, "leading zero"},
		{"1.2.", 5, "want a number, got the end"},
		{"1.2-rc.1", 4, "pre-release needs all three numbers"},
		{"1.2.3-", 7, "want an identifier"},
		{"1.2.3-01", 7, "leading zero"},
		{"1.2.3+", 7, "want an identifier"},
		{"1.2.3 1.2.4", 7, `want "," between terms, got "1.2.4"`},
		{">= 1.0 < 2.0", 8, `want "," between terms, got "<"`},
		{"== 1.2.3", 2, `want a number, got "="`},
		{"=> 1.2", 2, `want a number, got ">"`},
		{"1.2.3abc", 6, `unexpected "abc" after the version`},
		{"99999999999999999999", 1, "too large"},
		{"~> 1.2, foo", 9, `want a number, got "f"`},
	} {
		_, err := ParseConstraint(tc.in)
		var ce *ConstraintError
		if !errors.As(err, &ce) {
			t.Errorf("ParseConstraint(%q) = %v, want a ConstraintError", tc.in, err)
			continue
		}
		if ce.Column != tc.col || !strings.Contains(ce.Msg, tc.want) || ce.Input != tc.in {
			t.Errorf("ParseConstraint(%q): %v (column %d), want column %d and %q", tc.in, err, ce.Column, tc.col, tc.want)
		}
		if !strings.Contains(err.Error(), "column ") || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseConstraint(%q): message %q names neither input nor column", tc.in, err)
		}
	}
}

func TestConstraintAllows(t *testing.T) {
	for _, tc := range []struct {
		c       string
		allowed []string
		refused []string
	}{
		{"", []string{"0.0.1", "1.2.3", "2.0.0-rc.1", "dev"}, nil},
		{"~> 1.2", []string{"1.2.0", "1.2.9", "1.3.0", "1.10.0"}, []string{"1.1.9", "2.0.0", "2.0.0-rc.1", "1.3.0-rc.1", "dev"}},
		{"~> 1.2.3", []string{"1.2.3", "1.2.10"}, []string{"1.2.2", "1.3.0", "1.2.4-rc.1"}},
		{"~> 1", []string{"1.0.0", "1.9.0", "2.0.0", "7.0.0"}, []string{"0.9.0"}},
		{"~> 0.1", []string{"0.1.0", "0.9.9"}, []string{"1.0.0", "0.0.9"}},
		{">= 1.0, < 2.0", []string{"1.0.0", "1.99.99"}, []string{"0.9.9", "2.0.0", "2.0.0-rc.1"}},
		{"= 1.2.3", []string{"1.2.3", "1.2.3+linux"}, []string{"1.2.4", "1.2.3-rc.1"}},
		{"1.2", []string{"1.2.0"}, []string{"1.2.1"}},
		{"!= 1.2.5, ~> 1.2", []string{"1.2.4", "1.2.6"}, []string{"1.2.5"}},
		{"> 1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{"<= 1.2.3", []string{"1.2.3", "0.1.0"}, []string{"1.2.4"}},
		{"= 1.3.0-rc.1", []string{"1.3.0-rc.1"}, []string{"1.3.0-rc.2", "1.3.0"}},
		{">= 1.3.0-rc.1", []string{"1.3.0-rc.1", "1.3.0-rc.2", "1.3.0", "1.4.0"}, []string{"1.3.0-beta", "1.4.0-rc.1"}},
		{"!= 1.3.0-rc.1", []string{"1.3.0"}, []string{"1.3.0-rc.2"}},
	} {
		c, err := ParseConstraint(tc.c)
		if err != nil {
			t.Fatalf("ParseConstraint(%q): %v", tc.c, err)
		}
		for _, v := range tc.allowed {
			if !c.Allows(v) {
				t.Errorf("%q does not allow %s", tc.c, v)
			}
		}
		for _, v := range tc.refused {
			if c.Allows(v) {
				t.Errorf("%q allows %s", tc.c, v)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.2.3", "10.20.30", "1.3.0-rc.1", "1.0.0+linux.amd64", "1.0.0-0.3.7"} {
		if err := Check(v); err != nil {
			t.Errorf("Check(%q): %v", v, err)
		}
	}
	for _, v := range []string{"", "1", "1.2", "v1.2.3", "1.2.3.4", "latest", "1.2.3-", "01.2.3", "1.2.3 ", "1.2.3,"} {
		if err := Check(v); err == nil {
			t.Errorf("Check(%q) accepted it", v)
		}
	}
}

func TestCompare(t *testing.T) {
	order := []string{"dev", "0.1.0", "1.2.0-rc.1", "1.2.0", "1.2.10", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(order[i], order[j]); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

// FuzzParseConstraint: parsing never panics, errors point inside the
// input, and what parses renders to a form that parses to the same
// constraint and allows the same versions.
func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{"~> 1.2", ">= 1.0, < 2.0", "= 1.2.3", "1.2.3", "!= 1.2.5", "~> 1.3.0-rc.1+b", "~> 1.x", ",", ""} {
		f.Add(s)
	}
	probes := []string{"0.0.0", "1.2.0", "1.2.3", "1.3.0-rc.1", "1.9.9", "2.0.0", "10.0.0"}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConstraint(s)
		if err != nil {
			var ce *ConstraintError
			if !errors.As(err, &ce) || ce.Column < 1 || ce.Column > len(s)+1 || ce.Input != s {
				t.Fatalf("ParseConstraint(%q): %#v", s, err)
			}
			return
		}
		again, err := ParseConstraint(c.String())
		if err != nil {
			t.Fatalf("ParseConstraint(%q) renders %q, which does not parse: %v", s, c.String(), err)
		}
		if again.String() != c.String() {
			t.Fatalf("%q renders %q, then %q", s, c.String(), again.String())
		}
		for _, v := range probes {
			if c.Allows(v) != again.Allows(v) {
				t.Fatalf("%q and %q differ on %s", s, c.String(), v)
			}
		}
	})
}
