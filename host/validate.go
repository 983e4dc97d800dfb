package host

import (
	"fmt"
	"math"
	"sort"
)

// checkFields turns a plugin's malformed output into an error on the item
// (errors are data), so one lying plugin cannot make a segment unstorable.
func checkFields(fields map[string]float64) string {
	var bad []string
	for k, v := range fields {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, fmt.Sprintf("%s=%v", k, v))
		} else if k == "" || len(k) > 128 {
			bad = append(bad, fmt.Sprintf("field name %q", k))
		}
	}
	if len(fields) > 1024 {
		return fmt.Sprintf("malformed_result: %d fields (at most 1024)", len(fields))
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	return "malformed_result: " + fmt.Sprint(bad)
}
