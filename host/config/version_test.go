package config

import (
	"testing"
)

// A plugin block's version is a field of the reference, not an attribute
// passed to the plugin, in HCL and in JSON alike.
func TestPluginVersion(t *testing.T) {
	hermeticEnv(t)
	c, err := Parse([]byte(`stream "a" {
  source = "test://ball"
  plugin "visual" {
    version   = "~> 1.2, != 1.2.5"
    threshold = 0.5
  }
  plugin "acoustic" {}
}
`), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Streams[0].Plugins
	if p[0].Version != "~> 1.2, != 1.2.5" || len(p[0].Attributes) != 1 || p[0].Attributes["threshold"] != "0.5" {
		t.Fatalf("%+v", p[0])
	}
	if p[1].Version != "" {
		t.Fatalf("default version %q, want empty", p[1].Version)
	}
	s, err := ParseStream([]byte(`{"id":"b","source":"test://ball","plugins":[{"name":"visual","version":"= 1.3.0","attributes":{"x":1}}]}`), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Plugins[0]; v.Version != "= 1.3.0" || len(v.Attributes) != 1 {
		t.Fatalf("%+v", v)
	}
}

// Structured plugin attributes reach the plugin as JSON text, from HCL and
// from the API's JSON alike.
func TestPluginStructuredAttributes(t *testing.T) {
	hermeticEnv(t)
	c, err := Parse([]byte(`stream "a" {
  source = "test://ball"
  plugin "visual" {
    intents = { greet = ["hello there", "hi"], thanks = ["thank you"] }
    labels  = ["a", 2]
  }
}
`), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Streams[0].Plugins[0].Attributes
	if a["intents"] != `{"greet":["hello there","hi"],"thanks":["thank you"]}` || a["labels"] != `["a",2]` {
		t.Fatalf("%q", a)
	}
	s, err := ParseStream([]byte(`{"id":"b","source":"test://ball","plugins":[{"name":"visual","attributes":{"o":{"k":[1]}}}]}`), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Plugins[0].Attributes["o"]; got != `{"k":[1]}` {
		t.Fatalf("o = %q", got)
	}
}
