package graph

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBuildWiresProducersToConsumers(t *testing.T) {
	nodes := []Node{
		{Name: "semantic", Inputs: []string{"transcript.final@1"}, Outputs: []string{"semantic.utterance@1"}},
		{Name: "visual", Inputs: []string{"video.rgb24"}, Outputs: []string{"visual.frame@1"}},
		{Name: "transcription", Inputs: []string{"audio.pcm16k"}, Outputs: []string{"transcript.partial@1", "transcript.final@1"}},
		{Name: "captions", Inputs: []string{"transcript.partial@1", "transcript.final@1"}},
		{Name: "report", Inputs: []string{"semantic.utterance@1", "transcript.final@1"}},
	}
	g, err := Build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	pos := func(n string) int { return slices.Index(g.Order, n) }
	if len(g.Order) != 5 || pos("transcription") > pos("semantic") || pos("semantic") > pos("report") || pos("transcription") > pos("captions") {
		t.Fatalf("order %v: producers must come before consumers", g.Order)
	}
	if got := g.ConsumersOf("transcription", "transcript.final@1"); !slices.Equal(got, []string{"semantic", "captions", "report"}) {
		t.Errorf("consumers of transcript.final@1 = %v", got)
	}
	if got := g.ConsumersOf("transcription", "transcript.partial@1"); !slices.Equal(got, []string{"captions"}) {
		t.Errorf("consumers of transcript.partial@1 = %v", got)
	}
	if got := g.ConsumersOf("visual", "visual.frame@1"); got != nil {
		t.Errorf("nobody consumes visual.frame@1, got %v", got)
	}
	if len(g.Subscriptions["report"]) != 2 || len(g.Subscriptions["visual"]) != 0 {
		t.Errorf("subscriptions %v", g.Subscriptions)
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	nodes := []Node{
		{Name: "a", Inputs: []string{"b.out@1"}, Outputs: []string{"a.out@1"}},
		{Name: "b", Inputs: []string{"a.out@1"}, Outputs: []string{"b.out@1"}},
		{Name: "semantic", Inputs: []string{"transcript.final@1"}},
		{Name: "old", Outputs: []string{"transcript.final@2", "video.rgb24", "Bad@1"}},
	}
	_, err := Build(nodes)
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`plugin "semantic": consumes "transcript.final@1" but no plugin of this stream produces it (old produces transcript.final@2: another major version)`,
		`plugin "old": manifest output "video.rgb24" is a host topic`,
		`plugin "old": manifest output: topic "Bad@1"`,
		`plugins form a cycle through the topics they consume: a → b → a`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestSelfLoopIsACycle(t *testing.T) {
	_, err := Build([]Node{{Name: "echo", Inputs: []string{"echo.out@1"}, Outputs: []string{"echo.out@1"}}})
	if err == nil || !strings.Contains(err.Error(), "echo → echo") {
		t.Fatalf("want a self cycle, got %v", err)
	}
}
