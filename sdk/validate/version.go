package validate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version reports whether v is a full semantic version without a leading
// "v" (1.3.0, 1.4.0-rc.1, 1.0.0+linux), as a plugin's manifest, its file
// name (visual@1.3.0) and plugins.lock must give it.
func Version(v string) error {
	if v == "" {
		return errors.New("empty version: want MAJOR.MINOR.PATCH like 1.2.3")
	}
	if strings.HasPrefix(v, "v") {
		return fmt.Errorf("version %q: drop the leading v (want MAJOR.MINOR.PATCH like 1.2.3)", v)
	}
	if msg := versionProblem(v); msg != "" {
		return fmt.Errorf("version %q: %s", v, msg)
	}
	return nil
}

// versionProblem is what is wrong with v, "" if nothing.
func versionProblem(v string) string {
	core, build, hasBuild := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	nums := strings.Split(core, ".")
	for i, n := range nums {
		switch {
		case n == "" || strings.Trim(n, "0123456789") != "":
			if strings.ContainsAny(n, "xX*") {
				return "wildcards are not versions; want MAJOR.MINOR.PATCH like 1.2.3"
			}
			return fmt.Sprintf("number %d %q is not a number", i+1, n)
		case len(n) > 1 && n[0] == '0':
			return fmt.Sprintf("number %s has a leading zero", n)
		}
		if _, err := strconv.ParseUint(n, 10, 63); err != nil {
			return fmt.Sprintf("number %s is too large", n)
		}
	}
	if len(nums) != 3 {
		return "want all three numbers, MAJOR.MINOR.PATCH like 1.2.3"
	}
	if hasPre {
		if msg := idents(pre, true); msg != "" {
			return "pre-release: " + msg
		}
	}
	if hasBuild {
		if msg := idents(build, false); msg != "" {
			return "build metadata: " + msg
		}
	}
	return ""
}

// idents checks dot-separated identifiers of [0-9A-Za-z-]; a pre-release's
// numeric ones have no leading zeros.
func idents(s string, pre bool) string {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return "want an identifier of 0-9 A-Z a-z -"
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if c != '-' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				return fmt.Sprintf("character %q in %q: want an identifier of 0-9 A-Z a-z -", c, id)
			}
		}
		if pre && len(id) > 1 && id[0] == '0' && strings.Trim(id, "0123456789") == "" {
			return fmt.Sprintf("numeric identifier %s has a leading zero", id)
		}
	}
	return ""
}
