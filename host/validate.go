package host

import (
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// The rules a plugin's results follow are the SDK's (validate.Results), the
// ones sdk/plugintest applies: a plugin that passes its harness tests has
// its results stored here. A result that breaks them is stored as its
// item's error instead, with none of its values (errors are data), so one
// lying plugin cannot make a segment unstorable.

// frameOutcome is what the host stores of a frame's (or a message's)
// result that is not an error: its fields and objects, or the error that
// replaces them.
func frameOutcome(checks *validate.Results, res *pluginv1.Result) (map[string]float64, []model.Object, string) {
	if err := checks.Frame(res); err != nil {
		return nil, nil, err.Error()
	}
	return res.GetFields(), convertObjects(res.GetObjects()), ""
}

// itemOutcome is frameOutcome for one item of an audio result: each item
// is kept or refused alone.
func itemOutcome(checks *validate.Results, it *pluginv1.Item) (map[string]float64, []model.Object, string) {
	if err := checks.Item(it); err != nil {
		return nil, nil, err.Error()
	}
	return it.GetFields(), convertObjects(it.GetObjects()), ""
}

// answerError is the error the host stores instead of a message's answer
// that breaks the rules (its payload must be JSON: the API serves it as
// JSON), "" when it keeps it.
func answerError(checks *validate.Results, res *pluginv1.Result) string {
	if err := checks.Answer(res); err != nil {
		return err.Error()
	}
	return ""
}
