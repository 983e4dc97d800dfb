package sdk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/internal/server"
)

type videoOnly struct{}

func (videoOnly) ProcessFrame(*Frame) (Fields, error) { return nil, nil }
func (videoOnly) Close() error                        { return nil }

type audioOnly struct{}

func (audioOnly) ProcessAudio(*Audio) ([]Item, error) { return nil, nil }
func (audioOnly) Close() error                        { return nil }

func TestStreamMustImplementItsInputs(t *testing.T) {
	if err := checkImplements(audioOnly{}, []string{TopicAudioPCM16k}); err != nil {
		t.Errorf("an audio-only stream needs no ProcessFrame: %v", err)
	}
	if err := checkImplements(deviceOnly{}, []string{TopicVideoNV12CUDA}); err != nil {
		t.Errorf("a device-only stream needs no ProcessFrame: %v", err)
	}
	for _, c := range []struct {
		s      Stream
		inputs []string
		want   string
	}{
		{audioOnly{}, []string{TopicVideoRGB24}, "ProcessFrame"},
		{videoOnly{}, []string{TopicVideoRGB24, TopicAudioPCM16k}, "ProcessAudio"},
		{videoOnly{}, []string{"transcript.final@1"}, "ProcessMessage"},
		{videoOnly{}, []string{TopicVideoNV12CUDA}, "ProcessDeviceFrame"},
	} {
		err := checkImplements(c.s, c.inputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T with inputs %v: %v, want it to name %s", c.s, c.inputs, err, c.want)
		}
	}
}

type sink struct{ got []server.MessageOut }

func (s *sink) Publish(m server.MessageOut) error { s.got = append(s.got, m); return nil }

func TestPublishOnlyManifestOutputs(t *testing.T) {
	out := &sink{}
	p := publisher{pub: out, outputs: []string{"transcript.final@1"}}
	if err := p.Publish(Message{Topic: "transcript.final@1", Text: "hello"}); err != nil || len(out.got) != 1 {
		t.Fatalf("publish on an output: %v, %d sent", err, len(out.got))
	}
	for topic, want := range map[string]string{
		"transcript.partial@1": "not one of the manifest's outputs",
		"video.rgb24":          "not one of the manifest's outputs",
		"Transcript@1":         "name part 1",
	} {
		if err := p.Publish(Message{Topic: topic}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("publish on %q: %v, want %q", topic, err, want)
		}
	}
	if len(out.got) != 1 {
		t.Errorf("refused messages were sent: %d", len(out.got))
	}
}

type deviceOnly struct{}

func (deviceOnly) ProcessDeviceFrame(*Frame) (Fields, error) { return Fields{"device_only": 1}, nil }
func (deviceOnly) Close() error                              { return nil }

type deviceToo struct {
	videoOnly
	got *Frame
}

func (d *deviceToo) ProcessDeviceFrame(f *Frame) (Fields, error) {
	d.got = f
	return Fields{"device": 1}, nil
}

// TestDeviceFramesGoToProcessDeviceFrame: a frame in GPU memory reaches
// only a DeviceStream, with its device view and no pixels; a plain
// VideoStream gets bad_input instead of a nil Pixels to read.
func TestDeviceFramesGoToProcessDeviceFrame(t *testing.T) {
	f := &server.Frame{Seq: 7, Width: 64, Height: 32, Stride: 256,
		Device: &server.DeviceView{Ordinal: 1, Ptr: 0x7000, Stream: 0x42}}
	_, code, err := processor{id: "cam", s: videoOnly{}}.Process(f)
	if code != "bad_input" || err == nil || !strings.Contains(err.Error(), "sdk.DeviceStream") {
		t.Errorf("plain video stream: %q %v", code, err)
	}
	d := &deviceToo{}
	out, code, err := processor{id: "cam", s: d}.Process(f)
	if err != nil || code != "" || out.Fields["device"] != 1 {
		t.Fatalf("device stream: %v %q %v", out, code, err)
	}
	if g := d.got; g.Pixels != nil || g.Device == nil || g.Device.Ptr != 0x7000 || g.Device.Stream != 0x42 ||
		g.Device.Ordinal != 1 || g.Stride != 256 || g.Seq != 7 || g.StreamID != "cam" {
		t.Errorf("frame %+v device %+v", g, g.Device)
	}
	// A stream of TopicVideoNV12CUDA alone needs no ProcessFrame.
	if out, code, err := (processor{id: "cam", s: deviceOnly{}}).Process(f); err != nil || code != "" || out.Fields["device_only"] != 1 {
		t.Errorf("device-only stream: %v %q %v", out, code, err)
	}
	if _, code, err := (processor{id: "cam", s: deviceOnly{}}).Process(&server.Frame{Pixels: []byte{1}}); code != "bad_input" ||
		err == nil || !strings.Contains(err.Error(), "sdk.VideoStream") {
		t.Errorf("host frame to a device-only stream: %q %v", code, err)
	}
	// A host-memory frame still goes to ProcessFrame, not the device method.
	d.got = nil
	if _, code, err := (processor{id: "cam", s: d}).Process(&server.Frame{Pixels: []byte{1}}); err != nil || code != "" || d.got != nil {
		t.Errorf("host frame: %q %v", code, err)
	}
}

type tensorPlugin struct{ in *DeviceInput }

func (p tensorPlugin) Manifest() Manifest {
	return Manifest{Name: "t", Inputs: []string{TopicVideoRGBF32CUDA}, DeviceInput: p.in}
}
func (tensorPlugin) OpenStream(StreamInfo) (Stream, error) { return deviceOnly{}, nil }

// TestDeviceInputInManifest: the declared model input reaches the host's
// manifest, with std defaulting to 1 when left zero.
func TestDeviceInputInManifest(t *testing.T) {
	m := adapter{tensorPlugin{in: &DeviceInput{Width: 320, Height: 192, Mean: [3]float32{0.5, 0.5, 0.5}}}}.Manifest()
	d := m.DeviceInput
	if d == nil || d.GetWidth() != 320 || d.GetHeight() != 192 || fmt.Sprint(d.GetMean(), d.GetStd()) != "[0.5 0.5 0.5] [1 1 1]" {
		t.Errorf("device input %v", d)
	}
	if m := (adapter{tensorPlugin{}}).Manifest(); m.DeviceInput != nil {
		t.Errorf("no device input declared, manifest has %v", m.DeviceInput)
	}
}

type detector struct{ got *Frame }

func (d *detector) ProcessFrameObjects(f *Frame) (Fields, []Object, error) {
	d.got = f
	return Fields{"n": 1}, []Object{{Box: Box{X: 0.25, Y: 0.5, W: 0.125, H: 0.25}, Label: "person", Score: 0.75, TrackID: 3,
		Attributes: Fields{"speed": 2}, Keypoints: []Keypoint{{Name: "nose", X: 0.3, Y: 0.55, Score: 0.5}}, Text: "hi"}}, nil
}
func (d *detector) Close() error { return nil }

// A stream that implements only ProcessFrameObjects takes video, and its
// objects reach the wire beside its fields, every member converted.
func TestObjectStreamResults(t *testing.T) {
	d := &detector{}
	if err := checkImplements(d, []string{TopicVideoRGB24}); err != nil {
		t.Fatalf("ObjectStream refused for %s: %v", TopicVideoRGB24, err)
	}
	out, code, err := processor{id: "cam", s: d}.Process(&server.Frame{Seq: 2, Width: 4, Height: 4, Stride: 12, Pixels: make([]byte, 48)})
	if err != nil || code != "" || out.Fields["n"] != 1 || d.got == nil || d.got.Seq != 2 {
		t.Fatalf("process: %v %q %v", out, code, err)
	}
	if len(out.Objects) != 1 {
		t.Fatalf("%d objects", len(out.Objects))
	}
	o := out.Objects[0]
	if o.X != 0.25 || o.Y != 0.5 || o.W != 0.125 || o.H != 0.25 || o.Label != "person" || o.Score != 0.75 || o.TrackId != 3 ||
		o.Attributes["speed"] != 2 || o.Text != "hi" || len(o.Keypoints) != 1 || o.Keypoints[0].Name != "nose" ||
		o.Keypoints[0].X != float32(0.3) || o.Keypoints[0].Score != 0.5 {
		t.Fatalf("object on the wire %v", o)
	}
}
