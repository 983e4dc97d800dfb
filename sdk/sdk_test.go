package sdk

import (
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
	for _, c := range []struct {
		s      Stream
		inputs []string
		want   string
	}{
		{audioOnly{}, []string{TopicVideoRGB24}, "ProcessFrame"},
		{videoOnly{}, []string{TopicVideoRGB24, TopicAudioPCM16k}, "ProcessAudio"},
		{videoOnly{}, []string{"transcript.final@1"}, "ProcessMessage"},
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
