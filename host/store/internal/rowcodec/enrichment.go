package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
)

// Enrichment is an enrichment result ready to write.
type Enrichment struct {
	Where  string // "save enrichment STREAM/INDEX KIND"
	E      model.Enrichment
	Result *string // NULL: no result
	At     *int64
}

// EncodeEnrichment checks e and encodes its columns.
func EncodeEnrichment(streamID string, index int64, e model.Enrichment) (Enrichment, error) {
	out := Enrichment{Where: fmt.Sprintf("save enrichment %s/%d %q", streamID, index, e.Kind), E: e, At: UnixNS(e.At)}
	if e.Kind == "" {
		return out, fmt.Errorf("%s: kind must be set", out.Where)
	}
	if len(e.Result) > 0 {
		if !json.Valid(e.Result) {
			return out, fmt.Errorf("%s: result is not valid JSON", out.Where)
		}
		r := string(e.Result)
		out.Result = &r
	}
	return out, nil
}

// ScanEnrichment reads kind, status, result (JSON text or NULL), error,
// attempts, finished_at.
func ScanEnrichment(sc Scanner) (model.Enrichment, error) {
	var (
		e      model.Enrichment
		result *string
		at     *int64
	)
	if err := sc.Scan(&e.Kind, &e.Status, &result, &e.Error, &e.Attempts, &at); err != nil {
		return e, err
	}
	if result != nil {
		e.Result = json.RawMessage(*result)
	}
	e.At = FromUnixNS(at)
	return e, nil
}
