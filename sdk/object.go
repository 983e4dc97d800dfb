package sdk

import "github.com/lsie-mlf/lsie/sdk/proto/pluginv1"

// Box is a rectangle in coordinates normalised to the frame: X and Y of the
// top-left corner and W, H the size, each in 0..1 (a pixel box divided by
// the frame's width and height), so a result means the same at any
// analysis resolution.
type Box struct {
	X, Y, W, H float64
}

// Keypoint is a named point of an object (an eye, a wrist), normalised
// like Box; Score in 0..1, or 0 when the model gives none.
type Keypoint struct {
	Name  string
	X, Y  float64
	Score float64
}

// Object is one thing a plugin saw in a frame, or heard in a chunk (a
// speaker turn: Box zero). The host validates it (a Box inside the frame,
// Label among the manifest's Labels, Score in 0..1, finite numbers), stores
// one row per object and aggregates them per segment (docs/PLUGIN_SDK.md
// "Objects").
type Object struct {
	Box   Box
	Label string  // one of Manifest.Labels
	Score float64 // confidence, 0..1
	// TrackID is stable for the same thing across the stream's frames; 0
	// means not tracked. Use ids from 1.
	TrackID int64
	// Attributes are the object's numbers (a face's action units, a
	// vehicle's speed); names as for Fields.
	Attributes Fields
	Keypoints  []Keypoint
	// Text is what the object says: recognised on-screen text, a turn's words.
	Text string
}

// ObjectStream is implemented by a video Stream that reports objects beside
// its fields. When a stream implements it, the SDK calls it instead of
// ProcessFrame for frames in host memory (so a detector needs only this
// method, not both).
type ObjectStream interface {
	ProcessFrameObjects(f *Frame) (Fields, []Object, error)
}

// objectsToProto converts objects for the wire.
func objectsToProto(objs []Object) []*pluginv1.Object {
	if len(objs) == 0 {
		return nil
	}
	out := make([]*pluginv1.Object, len(objs))
	for i, o := range objs {
		p := &pluginv1.Object{
			X: float32(o.Box.X), Y: float32(o.Box.Y), W: float32(o.Box.W), H: float32(o.Box.H),
			Label: o.Label, Score: float32(o.Score), TrackId: o.TrackID, Attributes: o.Attributes, Text: o.Text,
		}
		for _, k := range o.Keypoints {
			p.Keypoints = append(p.Keypoints, &pluginv1.Keypoint{Name: k.Name, X: float32(k.X), Y: float32(k.Y), Score: float32(k.Score)})
		}
		out[i] = p
	}
	return out
}
