package rowcodec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
)

// Late is a batch of late items ready to attach to a stored segment.
type Late struct {
	Where string // `attach late items of "PLUGIN" to segment STREAM/INDEX run RUN`
	// Batch identifies the batch by its content: the sha256 of the plugin
	// name and the items' JSON. Attaching a batch whose id the segment has
	// already is a retry, and changes nothing.
	Batch  string
	Items  []model.Item
	Fields []string // per item
	// Objects are the items' objects; their ItemSeq counts from 0 (the
	// store adds the position the batch starts at).
	Objects []ObjectRow
}

// EncodeLate checks a late batch and encodes its items' JSON columns.
// Its errors wrap store.ErrInvalid.
func EncodeLate(streamID string, index int64, runID, plugin string, items []model.Item) (Late, error) {
	e, err := encodeLate(streamID, index, runID, plugin, items)
	return e, Invalid(err)
}

func encodeLate(streamID string, index int64, runID, plugin string, items []model.Item) (Late, error) {
	e := Late{Where: fmt.Sprintf("attach late items of %q to segment %s/%d", plugin, streamID, index), Items: items,
		Fields: make([]string, len(items))}
	if runID != "" {
		e.Where += " run " + runID
	}
	if streamID == "" || plugin == "" {
		return e, fmt.Errorf("%s: stream id %q and plugin %q must be set", e.Where, streamID, plugin)
	}
	var err error
	for i, it := range items {
		if e.Fields[i], err = JSONText(it.Fields); err != nil {
			return e, fmt.Errorf("%s: item %d (pts %s): fields: %w", e.Where, i, it.PTS, err)
		}
		if len(it.Payload) > 0 && !json.Valid(it.Payload) {
			return e, fmt.Errorf("%s: item %d (pts %s): payload is not valid JSON", e.Where, i, it.PTS)
		}
	}
	if e.Objects, err = encodeObjects(0, items); err != nil {
		return e, fmt.Errorf("%s: %w", e.Where, err)
	}
	for i := range e.Objects {
		e.Objects[i].Late = true
	}
	b, err := json.Marshal(items)
	if err != nil {
		return e, fmt.Errorf("%s: %w", e.Where, err)
	}
	h := sha256.New()
	h.Write([]byte(plugin))
	h.Write([]byte{0})
	h.Write(b)
	e.Batch = hex.EncodeToString(h.Sum(nil))
	return e, nil
}
